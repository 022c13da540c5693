"""An autouse fixture for test modules of tiny models: one torch thread while the module runs.

On a shared 2-core machine, two threads per tiny matmul mostly wait for each other (several times
slower under load); the previous thread count is restored afterwards. Import it into a test module:
``from single_thread import one_thread  # noqa: F401``.
"""
import pytest
import torch

from minilib.device import tune_cpu


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    tune_cpu()                      # it acts once per process; afterwards it no longer resets the threads
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
