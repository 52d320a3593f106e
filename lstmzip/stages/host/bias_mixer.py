"""Bias mixer (the context bias of block methods 9 and 17): learned weights for its tables and the LSTM.

Up to method 8 the context bias adds every table's bias with weight 1 and scales the LSTM's
logits by one learned factor. Which source deserves trust depends on where the byte is: inside
a random ID after a digit the LSTM is overconfident and the order-n tables have never seen the
context; in a record that repeats, the match and field tables know best. The mixer keeps, per
selector, one weight for each table and one scale for the LSTM's logits (Q12, like the logit
scale), selected by the class of the last byte (lstmzip.stages.host.record_context.BYTE_CLASS: digit,
upper, lower, space, tab, newline, other) and the match model's state (no match, or its
length bucket and misses), and learns them from the block as it is coded:

    logit(x) = (scale[s] * lstm(x) >> 12) + (sum over tables k of w[s, k] * B_k[x] >> 12) >> bias_frac_bits

with gradient steps on -log p(y): w[s, k] += mean over the step's streams with selector s of
(B_k[y] - E_p[B_k]) >> weight_shift, and the same for the scale in logit units. Sums of
integers, floor divisions by stream counts: the same in any stream order.
Training-pool logs (9 files, default model, 8 KiB streams): method 8 0.3427 bpc -> 0.3345;
with the shipped logs model, a training-pool apache log (120 KB) 5,536 -> 4,972 bytes.
"""
from __future__ import annotations

import numpy as np

from lstmzip.stages.host.record_context import BYTE_CLASS

ONE = 1 << 12  # Q12 weight 1.0
MAX_WEIGHT = 4 * ONE  # table weights stay in [0, 4]
MAX_SCALE = 2 * ONE  # the LSTM's scale stays in [0, 2], like method 5's logit scale
_CLASSES = 8  # BYTE_CLASS values 0..6, rounded up
_MATCH_STATES = 16  # 0: no match; else 1 + 4 * (length bucket >> 2) + misses (0..3), capped


def match_state(match_key: np.ndarray) -> np.ndarray:
    """MatchModel.prediction_key -> 0 without a match, else 1..15 from its length and misses."""
    length, misses = (match_key >> 8) & 15, (match_key >> 12) & 3
    return np.minimum(np.where(match_key > 0, 1 + (length >> 2) * 4 + misses, 0), _MATCH_STATES - 1)


def logit_gradient(logits: np.ndarray, freqs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per row, logit(y) - E_p[logit] (floored), in logit units: minus d(-log p(y))/d scale for
    logits times a scale. |logit| < 2^16, f <= 2^16: the sums stay below 2^41."""
    f = freqs.astype(np.int64)
    expected = (f * logits).sum(axis=1) // f.sum(axis=1)
    return logits[np.arange(len(y)), y] - expected


class BiasMixer:
    def __init__(self, tables: int, weight_shift: int, scale_shift: int):
        self.weight_shift, self.scale_shift = weight_shift, scale_shift
        self.weights = np.full((_CLASSES * _MATCH_STATES, tables), ONE, dtype=np.int64)
        self.scales = np.full(_CLASSES * _MATCH_STATES, ONE, dtype=np.int64)
        self._sel = self._biases = self._lstm = None

    def mix(self, biases: np.ndarray, lstm_logits: np.ndarray, last_byte: np.ndarray,
            match_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """biases int32 [rows, tables, 256], LSTM logits int [rows, 256] -> int64 [rows, 256]:
        the LSTM's logits times their scale, and the weighted sum of the biases in table units
        (still to shift by bias_frac_bits)."""
        sel = BYTE_CLASS[last_byte] * _MATCH_STATES + match_state(match_key)
        # Integer sums done as float64 GEMMs, exact: every product and partial sum is an
        # integer below 2^53 (|B| <= 2^22 times w <= 2^14, a few dozen tables), whatever the
        # summation order. numpy's integer einsum is about twice as slow.
        self._sel, self._biases, self._lstm = sel, biases.astype(np.float64), lstm_logits.astype(np.int64)
        mixed = np.matmul(self.weights[sel][:, None, :].astype(np.float64), self._biases)[:, 0]
        scaled = (self._lstm * self.scales[sel][:, None]) >> 12
        return scaled, mixed.astype(np.int64) >> 12

    def learn(self, freqs: np.ndarray, y: np.ndarray) -> None:
        """One gradient step after the step that coded y (int64 [rows]) with `freqs` (int32)."""
        sel, rows = self._sel, np.arange(len(y))
        f = freqs.astype(np.int64)
        total = f.sum(axis=1)
        # E_p[B_k] and E_p[lstm]: |B| * f < 2^38, summed over 256 symbols < 2^46 (exact in float64)
        expected = np.matmul(self._biases, f.astype(np.float64)[:, :, None])[:, :, 0].astype(np.int64) // total[:, None]
        table_diff = self._biases[rows, :, y].astype(np.int64) - expected
        lstm_diff = logit_gradient(self._lstm, f, y)
        count = np.maximum(np.bincount(sel, minlength=len(self.scales)), 1)
        sums = np.zeros_like(self.weights)
        np.add.at(sums, sel, table_diff)
        self.weights = np.clip(self.weights + ((sums // count[:, None]) >> self.weight_shift), 0, MAX_WEIGHT)
        lstm_sums = np.zeros_like(self.scales)
        np.add.at(lstm_sums, sel, lstm_diff)
        self.scales = np.clip(self.scales + ((lstm_sums // count) >> self.scale_shift), 0, MAX_SCALE)
