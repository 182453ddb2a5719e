import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_root() -> str:
    """MNIST in torchvision's layout: $DFA_LAFS_DATA, else ../shared/data beside the repo."""
    root = os.environ.get("DFA_LAFS_DATA") or str(REPO.parent / "shared" / "data")
    if not (Path(root) / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        pytest.fail(f"MNIST not found under {root}: set DFA_LAFS_DATA to a folder with MNIST/raw/")
    return root



@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test networks are tiny: one thread avoids oversubscription on a busy 2-core machine."""
    torch.set_num_threads(1)
