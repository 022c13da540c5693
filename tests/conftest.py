import os

import pytest
import torch

os.environ.setdefault("MINILIB_SCALE", "smoke")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
    if "matplotlib.pyplot" in __import__("sys").modules:      # figures drawn by a test die with it
        import matplotlib.pyplot as plt
        plt.close("all")


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """The tests train tiny models: one torch thread. On a 2-core machine shared with other work, two
    threads per tiny matmul mostly wait for each other (10-60x slower under load, measured); on a quiet
    machine one thread is as fast as two. ``tune_cpu`` runs first: it acts once per process, and would
    otherwise raise the thread count again inside ``train``. Tests of the thread settings themselves
    run in subprocesses."""
    from minilib.device import tune_cpu
    tune_cpu()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
