"""A fixture for test modules that train tiny models: run them on one CPU thread.

On a 2-core machine shared with other jobs, two threads spin-wait on each other and a tiny model's
step takes 10-60 times as long as on one thread (measured while other jobs ran); one thread is as
fast as two when the machine is quiet. ``tune_cpu`` runs first, because its one-time settings would
otherwise raise the thread count again inside ``train``. Use it with::

    from one_thread import one_thread  # noqa: F401  (an autouse, module-scoped fixture)
"""
import pytest
import torch

from minilib.device import tune_cpu


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    tune_cpu()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
