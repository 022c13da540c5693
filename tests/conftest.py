import os

import pytest
import torch

os.environ.setdefault("MINILIB_SCALE", "smoke")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
