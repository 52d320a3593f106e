"""The exactness contract (docs/DESIGN.md §2): identical tables for any batch, thread count, GEMM path."""
import numpy as np
import pytest
import torch

from lstmzip.models import registry
from lstmzip.models.exact_matmul import int_mm_is_exact
from lstmzip.models.int_engine import IntegerLSTM
from tests.conftest import data_file


def _run(engine, inputs, batch):
    """Feed inputs [T, S] step by step with physical batch `batch`; return all tables [T, S, 256]."""
    S = inputs.shape[1]
    states = [engine.initial_state(min(batch, S - lo)) for lo in range(0, S, batch)]
    out = []
    for t in range(inputs.shape[0]):
        rows = []
        for k, lo in enumerate(range(0, S, batch)):
            f, states[k] = engine.step(inputs[t, lo : lo + batch], states[k])
            rows.append(f)
        out.append(torch.cat(rows))
    return torch.stack(out)


@pytest.fixture(scope="module")
def default_model():
    return registry.load(registry.DEFAULT_MODEL)


@pytest.fixture(scope="module")
def inputs():
    data = np.frombuffer(data_file("anne.txt")[:24 * 40], dtype=np.uint8).astype(np.int64)
    return torch.from_numpy(data.reshape(24, 40).T.copy())  # [T=40, S=24]


def test_batch_sizes_give_identical_tables(default_model, inputs):
    engine = IntegerLSTM(default_model.qmodel)
    ref = _run(engine, inputs, 24)
    for batch in (1, 7):
        assert torch.equal(_run(engine, inputs, batch), ref)
    assert ref.dtype == torch.int32 and ref.min() >= 1 and ref.max() < (1 << 24)


def test_thread_counts_give_identical_tables(default_model, inputs):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _run(IntegerLSTM(default_model.qmodel), inputs, 24)
        torch.set_num_threads(2)
        two = _run(IntegerLSTM(default_model.qmodel), inputs, 24)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)


def test_int_mm_and_float_gemm_agree(default_model, inputs):
    if not int_mm_is_exact("cpu"):
        pytest.skip("torch._int_mm is not exact on this CPU; the float path is the only one used")
    a = _run(IntegerLSTM(default_model.qmodel, use_int_mm=True), inputs, 24)
    b = _run(IntegerLSTM(default_model.qmodel, use_int_mm=False), inputs, 24)
    assert torch.equal(a, b)


@pytest.mark.parametrize("use_int_mm", [None, False])
def test_the_recurrent_sums_worked_out_first_give_the_same_step(default_model, inputs, use_int_mm):
    """step_logits(x, state, recurrent(state)) (a decoder's child process works out the
    recurrent products before x is known) is step_logits(x, state), step after step, with
    the float GEMM and with the device's own choice."""
    engine = IntegerLSTM(default_model.qmodel, use_int_mm=use_int_mm)
    plain = split = engine.initial_state(inputs.shape[1])
    for t in range(inputs.shape[0]):
        a, plain = engine.step_logits(inputs[t], plain)
        b, split = engine.step_logits(inputs[t], split, engine.recurrent(split))
        assert torch.equal(a, b)
        assert all(torch.equal(u, v) for u, v in zip(plain.h + plain.c, split.h + split.c))
    assert len(engine.layers) > 1  # a higher layer's split products were tested too


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(default_model, inputs):
    cpu = _run(IntegerLSTM(default_model.qmodel), inputs, 24)
    gpu = _run(IntegerLSTM(default_model.qmodel, "cuda"), inputs.cuda(), 24).cpu()
    assert torch.equal(cpu, gpu)


def test_quantisation_is_deterministic_and_close_to_float(default_model):
    """The committed float weights quantise to exactly the shipped integer model, and the
    integer model codes real text within 3% of the float model's bits."""
    from lstmzip.training.measure import compare
    from lstmzip.models import float_weights

    model = float_weights.load_float(registry.DEFAULT_MODEL)
    from lstmzip.models.quantize import quantize

    q = quantize(model)
    for k, v in default_model.qmodel.tensors.items():
        assert torch.equal(q.tensors[k], v), k
    r = compare(model, IntegerLSTM(q), data_file("anne.txt")[20000:28000], streams=2)
    assert r["ratio"] <= 1.03, r
