import os
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
EVAL = Path(os.environ.get("LSTMZIP_EVAL", ROOT.parent / "shared" / "corpora" / "eval"))
DATA = Path(__file__).resolve().parent / "data"  # small files shipped with the tests (data/SOURCES.md)


def eval_file(rel: str) -> bytes:
    """A big eval file: for `slow` tests and benchmarks only (LSTMZIP_EVAL or ../shared)."""
    path = EVAL / rel
    if not path.exists():
        pytest.skip(f"eval corpus not found at {EVAL}")
    return path.read_bytes()


def data_file(name: str) -> bytes:
    """A file of tests/data (always there)."""
    return (DATA / name).read_bytes()


@pytest.fixture
def runner():
    return CliRunner()


SMALL_TEXT = data_file("anne.txt")[:4200]  # about the size of a short manual page


@pytest.fixture
def text(tmp_path):
    """A small real text file (4 KB of English prose) in a fresh folder."""
    p = tmp_path / "small.txt"
    p.write_bytes(SMALL_TEXT)
    return p


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """A second, small model (random weights) written with the real model-file code."""
    from lstmzip.models import model_file
    from lstmzip.models.config import ModelConfig
    from lstmzip.models.float_lstm import FloatLSTM
    from lstmzip.models.quantize import quantize

    torch.manual_seed(7)
    model = FloatLSTM(ModelConfig(layers=1, hidden=32, embed=8))
    # A unigram prior in the head bias, so this model beats storing text (~5 bpc) and its
    # archives really need it.
    counts = torch.bincount(torch.frombuffer(bytearray(b"etaoin shrdlu\n" * 9 + bytes(range(256))), dtype=torch.uint8).long(),
                            minlength=256).float()
    with torch.no_grad():
        model.head.weight.mul_(0.01)
        model.head.bias.copy_(counts.log())
    path = tmp_path_factory.mktemp("models") / "tiny.lstmzm"
    model_file.write(path, quantize(model), {"name": "tiny"})
    return path
