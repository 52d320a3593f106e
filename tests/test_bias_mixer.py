"""The bias mixer (methods 9 and 17): learns which sources to trust, per selector, exactly."""
import numpy as np

from lstmzip.stages.host.bias_mixer import ONE, BiasMixer, match_state


def _freqs(logits: np.ndarray) -> np.ndarray:
    """int32 frequencies >= 1 from logits in 1/64 nat (the test's stand-in for the exp table)."""
    p = np.exp((logits - logits.max(axis=1, keepdims=True)) / 64.0)
    return np.maximum(1, np.round(p * 65536)).astype(np.int32)


def _drive(mixer: BiasMixer, steps: int, biases_fn, lstm_fn, y_fn, last: np.ndarray, key: np.ndarray):
    for t in range(steps):
        y = y_fn(t)
        scaled, mixed = mixer.mix(biases_fn(y), lstm_fn(y), last, key)
        mixer.learn(_freqs(scaled + (mixed >> 6)), y)


def test_trusts_the_table_that_is_right_and_not_the_one_that_misleads():
    rng = np.random.default_rng(0)
    rows = 4
    last, key = np.full(rows, ord("a")), np.zeros(rows, dtype=np.int64)

    def biases(y):
        b = np.zeros((rows, 2, 256), dtype=np.int32)
        b[np.arange(rows), 0, y] = 64 * 64 * 2  # table 0: +2 nats on the byte that comes
        b[np.arange(rows), 1, (y + 1) % 256] = 64 * 64 * 3  # table 1: +3 nats on a byte that never does
        return b

    m = BiasMixer(2, weight_shift=5, scale_shift=2)
    _drive(m, 300, biases, lambda y: np.zeros((rows, 256), dtype=np.int32),
           lambda t: rng.integers(97, 123, rows), last, key)
    sel = 3 * 16  # lower case, no match
    assert m.weights[sel, 0] > 2 * ONE and m.weights[sel, 1] < ONE * 3 // 4  # measured 4.0 and 0.70
    assert np.all(m.weights[np.arange(len(m.weights)) != sel] == ONE)  # other selectors untouched


def test_lstm_scale_is_learned_per_class_of_the_last_byte():
    """An LSTM that is right after letters and confidently wrong after digits: its scale falls
    after digits only."""
    rows = 2
    key = np.zeros(rows, dtype=np.int64)

    def lstm(y, right):
        lg = np.zeros((rows, 256), dtype=np.int32)
        lg[np.arange(rows), y if right else 0] = 400
        return lg

    zero_biases = lambda y: np.zeros((rows, 1, 256), dtype=np.int32)
    m = BiasMixer(1, weight_shift=5, scale_shift=2)
    for t in range(200):
        for last, right in ((ord("7"), False), (ord("x"), True)):
            y = np.full(rows, ord("q"))
            scaled, mixed = m.mix(zero_biases(y), lstm(y, right), np.full(rows, last), key)
            m.learn(_freqs(scaled + (mixed >> 6)), y)
    digit, lower = 1 * 16, 3 * 16
    assert m.scales[digit] < ONE // 2 and m.scales[lower] >= ONE  # measured 0.35 and 1.42


def test_stream_order_does_not_matter():
    rng = np.random.default_rng(1)
    rows, tables = 6, 3
    perm = np.array([4, 1, 5, 0, 3, 2])
    a, b = BiasMixer(tables, 5, 2), BiasMixer(tables, 5, 2)
    for _ in range(50):
        biases = rng.integers(-5000, 5000, (rows, tables, 256)).astype(np.int32)
        lstm = rng.integers(-300, 300, (rows, 256)).astype(np.int32)
        last = rng.choice(np.frombuffer(b"a1 \n", dtype=np.uint8), rows).astype(np.int64)
        key = rng.integers(0, 1 << 14, rows)
        y = rng.integers(0, 256, rows)
        for m, order in ((a, np.arange(rows)), (b, perm)):
            scaled, mixed = m.mix(biases[order], lstm[order], last[order], key[order])
            m.learn(_freqs(scaled + (mixed >> 6)), y[order])
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.scales, b.scales)
    assert not np.all(a.weights == ONE)


def test_match_state():
    assert match_state(np.array([0]))[0] == 0
    short, long_missed = 1 + 65 + (0 << 8), 1 + 65 + (15 << 8) + (3 << 12)
    assert match_state(np.array([short]))[0] == 1
    assert match_state(np.array([long_missed]))[0] == 15
