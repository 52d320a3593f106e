"""Context mixing on the device: the LSTM's byte distribution as one voice among count-based
context models, mixed bit by bit and turned back into a byte distribution.

A byte is coded as two nibbles, each 4 binary decisions down a tree of 15 nodes. For every
node of a nibble, each input gives a probability that the next bit is 1: the LSTM's (after
the context bias and the match model) from the sums of its frequencies under the node, and
one adaptive counter per context (orders 1-6 and the current word, hashed into buckets of 16
counters: one bucket for the first nibble, one per first nibble for the second). A learned
mixer weighs their stretched probabilities (ln(p / (1 - p))), an adaptive probability map
keyed by the previous byte refines the result, and the product of the node probabilities
along each value's path is that value's frequency: a 16-entry table for the coder. The
decoder decodes the first nibble before it asks for the second's table.

Only the 8 nodes on the coded byte's path learn. Where several rows of a block update the same
counter, weight or map cell in one step, each adds its update divided by their count (rounded;
method 13: weights and map cells by the square root of their count):
integer sums, so the result does not depend on the order of the rows or on the other blocks
in the batch. Everything is integer arithmetic: the same on every device.
The arithmetic, step by step: docs/FORMAT.md section 5.4.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from lstmzip.stages.bias import zeros
from lstmzip.stages.rows import RowBatch, pick, put

# 4096 / (1 + e^(-d/2)) at d = -16 .. 16, rounded: squash() interpolates between them
SQUASH_KNOTS = (1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048, 2550,
                2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090, 4092, 4094, 4095)
ST_MAX = 2047  # stretch values are ln-odds in 1/256 units, -2047 .. 2047
P_HALF = 1 << 15  # counters are Q16 probabilities stored less one half (so zeroed memory is 1/2)
# counters move towards these (not 0 and 65535): a step's rounded shares can overshoot by up to
# half a unit per row (512 rows at most), which must not leave int16
P_LOW, P_HIGH = 512, 65535 - 512
COUNT_CAP = 1 << 14  # a bucket's visit count stops here (int16)
# with MixConfig.check_bits: a bucket's slot 0 holds its check above 8 bits of visits, capped here
CHECKED_VISITS = 255
CHECK_SHIFT = 26  # a bucket's check: bits CHECK_SHIFT and up of its hash (its index takes the lowest)
W_LIMIT = 1 << 20  # mixer weights (Q16) stay within +-16
SCRATCH_BITS = 16  # per block and table: slots of the table that counts updates aimed at one entry
_M63 = (1 << 63) - 1
_K1, _K2, _K3 = 0x1E3779B97F4A7C15, 0x42B2AE3D27D4EB4F, 0x165667B19E3779F9
_WORD_MULT, _WORD_MASK = 0x2F0F3, (1 << 40) - 1
# the tables a step updates, in the order of update's scatter (its scratch regions)
_TABLES = ("counters", "weights", "class_w", "match_p", "apm")
_SQRT_TABLES = ("weights", "class_w", "apm")  # where shares "sqrt" applies


def squash_table() -> np.ndarray:
    """p in 1/4096 for every stretch value d = -2047 .. 2047 (index d + 2047)."""
    d = np.arange(-ST_MAX, ST_MAX + 1, dtype=np.int64)
    knots = np.array(SQUASH_KNOTS + (4095,), dtype=np.int64)
    i, w = (d >> 7) + 16, d & 127
    return (knots[i] * (128 - w) + knots[i + 1] * w + 64) >> 7


def stretch_table(squash: np.ndarray) -> np.ndarray:
    """For p = 0 .. 4095: the least d with squash(d) >= p (so squash(stretch(p)) ~ p)."""
    return np.searchsorted(squash, np.arange(4096), side="left").clip(0, 2 * ST_MAX) - ST_MAX


@dataclass(frozen=True)
class MixConfig:
    orders: tuple[int, ...] = (1, 2, 3, 4, 6)  # context orders (bytes), each a counter table
    word: bool = True  # a table keyed by the letters of the current word and the last byte
    bucket_bits: int = 20  # most buckets per table (fewer for small blocks: table_bits)
    # a counter moves by 1/(n + 1.5) of its error, n its bucket's visits up to this
    rate_limit: int = 127
    # a weight moves by input * error >> mix_shift (Q8 x Q12 -> Q16), the mean over the rows
    mix_shift: int = 8
    apm_rate: int = 7  # the map's cells move by 1/2^apm_rate of their error
    apm: bool = True  # False: the mixer's probability is final (for measuring what the map buys)
    # weight sets per node chosen by the match model's length: set i + 1 where the match has run
    # at least edges[i] bytes (set 0: no match); () one set
    match_set_edges: tuple[int, ...] = ()
    # the match model's predicted bit as an input: +-stretch(p) where the node lies on the
    # predicted byte's path, p an adaptive probability (Q16) that the prediction holds, one per
    # match length bucket
    match_input: bool = False
    match_rate: int = 6  # those probabilities move by 1/2^match_rate of their error
    # how the c updates of one mixer weight or map cell in a step (from c rows of the block)
    # combine: "mean", each adds its update / c; "sqrt", each adds its update * 16 /
    # round(16 sqrt(c)), so that rows that agree move it further than one row does (as c
    # updates one after another would), without the overshoot of a plain sum
    shares: str = "mean"
    # > 0: a weight set's step is multiplied by (warm_boost * w + n) / (w + n), w this and n
    # the updates the set has had: fresh sets (rare nodes, a small file) learn up to
    # warm_boost times faster and settle to the mix_shift rate
    weight_warm: int = 0
    warm_boost: int = 4
    # a second weight table, keyed by (previous byte >> class_shift, nibble, depth): its
    # weights are added to the node's; it learns the node weights' steps >> class_step
    class_weights: bool = False
    class_shift: int = 5
    class_step: int = 1
    # each context's weight chosen by how often its bucket was seen: level i + 1 where the
    # visits are at least conf_edges[i] (level 0 below the first); () one weight per input
    conf_edges: tuple[int, ...] = ()
    # more counter tables, keyed by the context of these orders and the stream: what this
    # stream's own recent text did there (the lines just above), beside the block's shared
    # tables, where every stream's text adds (others' lines, from elsewhere in the block)
    own_orders: tuple[int, ...] = ()
    # more counter tables (after the own-stream ones), table k = 1 .. word_history keyed by the
    # last k words, the current word's letters and the last byte: which word follows which
    # (a word ends where a letter is followed by a byte that is not one)
    word_history: int = 0
    # > 0: each bucket keeps a check of this many bits (<= 7) of its context's hash beside its
    # visits (<= CHECKED_VISITS); a context whose check is not the bucket's sees fresh counters
    # (1/2, no visits) and, on its update, takes the bucket over, reset, unless the bucket has
    # been seen check_keep times or more: then its visits drop by one instead (once a step),
    # so that a context seen often is not pushed out by one seen once (FORMAT.md 5.4 says which
    # context takes a bucket where several contexts of one step meet there)
    check_bits: int = 0
    check_keep: int = 2


# Method 11. Chosen on training-pool text, never on eval files (an English validation novel and
# the held-out Python and logs of benchmarks/results/mix_ablation_016.md): mix_shift 8 against 10
# took Python 1.0868 -> 1.0854 bpc and logs 0.5067 -> 0.4927; rate_limit 127 against 30 1.0845
# and 0.4918.
MIX_V1 = MixConfig()
# Method 12: MIX_V1 plus the match model's predicted bit as an input and a second weight set for
# matches of 16 bytes or more. Training-pool text as above (English novel / logs / Python, bpc):
# MIX_V1 1.7609 / 0.4918 / 1.0845; the input alone 1.7605 / 0.4861 / 1.0781; with the sets
# 1.7604 / 0.4769 / 1.0767 (sets from 1, 8, 16 bytes instead: 1.7629 / 0.4769 / 1.0845; from 32:
# 1.7605 / 0.4798 / 1.0773; match_rate 5 or 7 instead of 6: within 0.1%). Tried, not taken: a
# second map keyed by the last 2 bytes (<= 0.06%); the counters' inputs through adaptive maps
# keyed by (visits, probability level) (neutral instead of them, worse beside them); weights
# added from a second table chosen by the previous byte >> 5, the nibble and the depth (1.7570 /
# 0.4702 / 1.0728 on those files, but +1.7% on 15 KB slices of them; with its steps / 4 1.7567
# / 0.4729 / 1.0697, and -0.2% on the slices: a candidate for the next method).
MIX_V2 = MixConfig(match_set_edges=(16,), match_input=True)
# Method 13: MIX_V2 with the weights' and the map's updates shared by sqrt, fresh weight sets
# learning faster, and weights added from a table keyed by the previous byte's class. Training-
# pool text as above (English novel / logs / Python, bpc; the same streams): MIX_V2 1.7604 /
# 0.4769 / 1.0767; MIX_V3 1.7552 / 0.4625 / 1.0622. Without the class weights 1.7579 / 0.4685
# / 1.0683 (class_step 2: 1.7548 / 0.4641 / 1.0630; class_shift 4 with class_step 2: 1.7553 /
# 0.4631 / 1.0625); without the warm-up too 1.7583 / 0.4724 / 1.0703 (weight_warm 256: 1.7582
# / 0.4662 / 1.0689; warm_boost 8: 1.7583 / 0.4658 / 1.0692). On 9 slices of 4-12 KB of those
# files (small-block streams), payload bytes: MIX_V2 13,064; sqrt shares alone 13,032; with the
# warm-up 12,916 (weight_warm 16: 12,944; 256: 12,928); MIX_V3 12,816 (class_step 2: 12,836).
# Before the warm-up (sqrt by floats): the weights' shares alone, mix_shift 10, 1.7585 / 0.4748
# / 1.0723 (mix_shift 9: 1.7618 / 0.4709 / 1.0759; 11: 1.7588 / 0.4822 / 1.0739); with the
# map's too 1.7587 / 0.4725 / 1.0703 (apm_rate 7 instead of 6: 1.7587 / 0.4748 / 1.0720).
# Tried, not taken: a plain sum of the weights' updates (mix_shift 12: 1.7617 / 0.4753 /
# 1.0734; 13: 1.7593 / 0.4820 / 1.0764); the counters' c updates taken as c observations, rate
# 1 / (v + c + 0.5) (within 0.1%); each node's own visit count for its rate instead of its
# bucket's (1.7596 / 0.4766 / 1.0762, for twice the counters' memory); weight sets also chosen
# by how many of orders 2-6 have seen the node, as lpaq1's mixer does (0.1-1.2% worse), or by
# the node's depth instead of the node (0.3-2.5% worse).
MIX_V3 = dataclasses.replace(MIX_V2, mix_shift=10, apm_rate=6, shares="sqrt", weight_warm=64, class_weights=True)
# Method 14: MIX_V3 with each context's weight chosen by its bucket's visits (levels: 0, 1-3,
# 4-15, 16+), so that the mixer trusts a context by how much it has seen, as an adaptive map of
# bit-history states would. Training-pool text as above (logs / Python / English novel, bpc):
# MIX_V3 0.4625 / 1.0622 / 1.7552; MIX_V4 0.4607 / 1.0563 / 1.7513; edges 1, 4: 0.4611 / 1.0575
# / 1.7526; 1, 4, 16, 64: 0.4606 / 1.0563 / 1.7516; 1, 3, 10, 30: 0.4610 / 1.0572 / 1.7519;
# 2, 8, 32: 0.4615 / 1.0580 / 1.7522; 1, 2, 4, 8: 0.4615 / 1.0583 / 1.7526. On the 9 slices of
# 4-12 KB (payload bytes): MIX_V3 12,816, edges 1, 3, 10, 30 12,784. Tried, not taken: a
# counter table of order 7 besides (1, 3, 10, 30 with it: 0.4573 / 1.0575 / 1.7520, for one more
# input: logs only); a counter's rate limit of 60, 255 or 1023 instead of 127 (within 0.1%).
MIX_V4 = dataclasses.replace(MIX_V3, conf_edges=(1, 4, 16))
# Method 16: MIX_V4 with a third weight set for matches of 48 bytes or more (beside MATCH_V7's
# long context, whose matches start at 12). Training-pool text as above (logs / Python / English
# novel, bpc): sets from 16 0.4281 / 1.0357 / 1.7481; from 16, 48 0.4265 / 1.0354 / 1.7481; 12:
# 0.4315 / 1.0376 / 1.7481; 12, 32: 0.4272 / 1.0365 / 1.7482; 8, 24: 0.4268 / 1.0362 / 1.7483.
MIX_V5 = dataclasses.replace(MIX_V4, match_set_edges=(16, 48))
# Tried after 0.16.0, not taken (method 16 otherwise, default model, bpc; training-pool text: 768
# KB and all of the English pool's last 3 MB, 300 KB of Python and of logs): bucket_bits 21 / 22
# 1.9592 / 1.9592 (a 768 KB block takes 2^21 buckets at most) and 1.8554 / 1.8542 against 1.9602
# and 1.8572 (twice and four times the counters' memory for <= 0.16%: collisions cost little
# here); class_shift 0 / 2 / 3 1.9611 / 1.9605 / 1.9607, Python 1.3915 / 1.3910 / 1.3905, logs
# 0.7061 / 0.7062 / 0.7065 against 1.9602 / 1.3903 / 0.7056.
# Tried after 0.17.0, not taken (method 16, 0.17's default model; 300 KB of Python and of logs, 256
# KB of English from the training pool, bpc): a sixth counter table keyed by sparse contexts,
# bytes 2-3 / 2 / 2-4 / 3-4 back (the last byte skipped): Python 1.3605 / 1.3605 / 1.3601 /
# 1.3602, logs 0.7055 / 0.7066 / 0.7046 / 0.7043, English 2.0756 / 2.0758 / 2.0757 / 2.0754
# against 1.3599 / 0.7067 / 2.0751 (logs -0.3% at best, for one more input on every file).
# Counters allowed nearer 0 and 1 (P_LOW 128 / 32 instead of 512): Python 1.3597 / 1.3595, logs
# 0.7065 / 0.7062, English 2.0756 / 2.0758 (within 0.05%).
# Tried after 0.18.0, not taken (method 16, 0.18's default model; the 12 held-out Python files
# (115 KB), 300 KB of the 8 held-out logs, 256 KB of the held-out books, bpc): weight sets also
# chosen per node by |stretch(p)| of the LSTM's prediction there, edges 256, 768 / 128, 512,
# 1024: Python 0.9893 / 0.9921, logs 0.4231 / 0.4241, English 1.8090 / 1.8101 against 0.9818 /
# 0.4226 / 1.8019 (the sets split what each learns). Beside each counter a fast one (moving
# by 1/2^k of its error), one more input per context, k = 2 / 3 / 4: Python 0.9876 / 0.9854 /
# 0.9843, logs 0.4235 / 0.4231 / 0.4229, English 1.8066 / 1.8044 / 1.8038 (recency as such buys
# nothing here; more weights to learn).

# Method 19 (the default model's repetitive blocks, the python model's blocks above 16 KiB):
# MIX_V5 plus counter tables of orders 2 and 4 keyed by the stream too. A block's streams are
# slices of one text, and a shared table holds every stream's statistics, most of them from far
# away in the block; a stream's own tables hold what its own last lines did. Where that matters
# is text that repeats: 300 KB of training-pool logs, default model, 0.1219 bpc in 37 streams of
# 8 KiB, 0.1026 in 10 of 32 KiB, 0.0904 in one (lpaq1 9: 0.0971). Chosen on training-pool text
# and source files of this machine (C headers, Perl, Tcl, JavaScript, Emacs Lisp), never on eval
# files; default model, bpc, method 16 -> 19: 300 KB of Python 0.8831 -> 0.8632, of logs 0.1219
# -> 0.1191; 11 source files of 30-83 KB 0 to -2.9% each, 4 logs of 44-71 KB -0.4 to -2.9%, a
# 31 KB Python file -0.6% (all 18 files 0.9552 -> 0.9440); 25 slices of 6-14 KB of them and of
# other logs 1.4245 -> 1.4207 (+0.1 to -2.1% each); the python model on 300 KB of Python 0.8309
# -> 0.8115, on 6 files of 31-90 KB 1.0319 -> 1.0198. English novels (method 18 with the same
# tables; two validation books of the default model's split and a 60 KB slice, 500 KB): 1.7302
# -> 1.7302, so the prose method keeps MIX_V5. Other orders, on 6 of those files (586 KB, 1.1244
# bpc with method 16; payload bytes against 82,424): (2, 4) 81,296; (2, 4, 6) 81,280; (1, 2, 4)
# 81,260; (2, 3, 4, 6) 81,244 (two more inputs for 0.06%); (3, 6) 81,484; (2,) 81,520; (4,)
# 81,828; (6,) 82,036. Tried, not taken: each context's weight also chosen by its node's run of
# equal bits (run edges 2, 8 / 4 / 8: within 0.1%); longer ramps for the repetitive blocks'
# streams (first 512 / 1024 steps, doubling every 32 / 64: -0.2% / -0.1% on those files, -6.7%
# on the logs, for up to 15% more steps); method 19 for the logs model (pool logs 0.2951 ->
# 0.3116 against its method 17).
MIX_V6 = dataclasses.replace(MIX_V5, own_orders=(2, 4))

# Methods 20 and 21 (the default model's from 0.26, prose and repetitive blocks): tables keyed by
# the last word and by the last two words (word_history 2), and fewer orders: beside the LSTM, the
# context bias and the match model, orders 1 (and on prose 2) added little. Chosen on training-pool
# text and files of this machine, never on eval files; default model, archive bytes, method 18 ->
# 20 (prose, zlib level 1 above 3.4 bits a byte): a validation book's 150 KB 31,692 -> 31,632, 289
# KB 63,613 -> 63,437, 1 MB of other books 221,625 -> 221,093, a CSV of stock prices (68 KB)
# 22,172 -> 22,216; method 19 -> 21 (repetitive): Insectivorous Plants (934 KB) 160,113 ->
# 157,545, 300 KB of Python 32,369 -> 32,121, of logs 4,467 -> 4,339, UTF-8 locale files (150 KB:
# Cyrillic, CJK, Greek) 27,484 -> 26,928, a JSON policy list (157 KB) 9,163 -> 9,219; 9 slices of
# 2-12 KB of the book, the Python and the logs 10,544 -> 10,496. Steps (method 18/19 otherwise):
# word pairs alone -0.05 to -0.2% on the books, -1.0% Insectivorous Plants, -0.35% Python, -1.25%
# logs; with the triples -1.6 / -0.8 / -2.9% on those three; order 1 left out: -0.03 to -0.06%.
# Orders with the word tables, on the CSV and the books: (2, 4, 6) 22,364 and 0.01% larger on the
# books, (2, 3, 4, 6) 22,188 and 0.02% larger (one more input: slower), (3, 4, 6) 22,216. On the
# repetitive files (with a first version of the word keys): (3,) / (2, 4) within 0.4% of (2, 3, 4,
# 6) on the Python, the logs and Insectivorous Plants, but the JSON +1.1 / +0.6% and the locales
# +2.0 / +1.2%; orders 1-6 the JSON -0.9%, for one more input again. Not taken: no plain word
# table beside them (+2% on everything); triples without pairs (worse on English); the last three
# words too in method 21 (logs -3.6%, the locales -1.1%, Insectivorous Plants and Python -0.1%,
# the JSON 0: one more input and table on every repetitive block). Twice the buckets (bucket_bits
# 22: 2^21 for Insectivorous Plants) -0.35% there, where the old contexts' gained <= 0.16% from
# 4x: the word tables collide more, but a 4 MB block's 9 tables, 4x as large, would take up to
# ~860 MiB more.
MIX_V7 = dataclasses.replace(MIX_V5, orders=(3, 4, 6), word_history=2)
MIX_V8 = dataclasses.replace(MIX_V6, orders=(2, 3, 4, 6), word_history=2)
# Method 22 (the default model's for blocks of up to 16 KiB that are not repetitive, from 0.26):
# the word tables beside all of orders 1-6. In a small block the low orders learn first; without
# them small files of markup did worse. Default model, archive bytes, 10 man pages of this
# machine (troff, 4-12 KB; 3 of them repetitive) and the 9 slices of 2-12 KB above: methods 18 and
# 19 22,184 and 10,544; 20 and 21 22,552 and 10,496; 22 for the small blocks that are not
# repetitive, 21 for those that are, 22,196 and 10,508 (22 for every small block: 22,200 and
# 10,520, and small files of code worse: fields.c +1.2%; the same orders over MIX_V8, method 21's
# stages, for every small block: 22,052 and 10,612, the English slices +1.6%).
MIX_V9 = dataclasses.replace(MIX_V5, word_history=2)
# Methods 23-25 (the default model's from 0.27): methods 20-22 with a 7-bit check in each bucket.
# A block's tables hold at most 2^20 buckets, twice its bytes below that: a 4 MB block's contexts
# share buckets, whose counters then mix unrelated statistics. With the check a context that
# finds another's bucket starts from fresh counters (which the mixer trusts little: their visits
# are 0) and takes the bucket over, unless it has been seen twice or more (then it loses a
# visit). Chosen on training-pool text and files of this machine, never on eval files; default
# model, archive bytes, methods 20 / 21 / 22 -> the same with checks: 2.5 MB of the English pool
# (method 20) 543,888 -> 542,348 (bucket_bits 22, 4x the memory: 542,068), 768 / 150 / 289 KB
# books 154,953 / 31,632 / 63,437 -> 154,653 / 31,600 / 63,377; 4 MB of Python (21) 510,580 ->
# 504,144 (bucket_bits 22: 504,088), Insectivorous Plants 157,545 -> 156,729, 300 KB of Python
# 32,121 -> 32,041, of logs 4,339 -> 4,335, the locale files 26,928 -> 26,844, the JSON list
# 9,219 -> 9,155, the CSV 22,072 -> 21,984; the man pages and 9 slices (22) 32,720 -> 32,588.
# Replacement rules (2.5 MB English / Insectivorous Plants / 4 MB Python): always 543,924 /
# 157,305 / 503,364; kept from 2 visits, halved per claim 542,704 / - / -; from 1, 3, 4, 16
# visits, halved: 542,784, 542,912, 543,084, 543,560; from 2 less one 542,348 / 156,729 /
# 504,144; from 3 less one 542,588 / 156,825; from 4 less one 542,780. The last three words too
# (method 24, repetitive blocks; against the same with two): Insectivorous Plants 156,729 ->
# 156,333, logs 4,335 -> 4,179, locales 26,836 -> 26,544, Python 32,041 -> 31,997, the JSON
# 9,155 -> 9,151, the CSV 21,984 -> 22,000; on prose (method 23) -0.02%: not taken there.
MIX_V10 = dataclasses.replace(MIX_V7, check_bits=7)
MIX_V11 = dataclasses.replace(MIX_V8, check_bits=7, word_history=3)
MIX_V12 = dataclasses.replace(MIX_V9, check_bits=7)


def table_bits(model_len: int, most: int) -> int:
    """Buckets per table for a block: twice its bytes (each byte visits two), within 10 .. most."""
    return max(10, min(most, (2 * max(model_len, 1) - 1).bit_length()))




class LstmNodes:
    """The LSTM's input to a nibble's mixing: its 16 frequencies (int32 or int64 [n, 16]) ->
    stretch(p(1)) at the nibble's 15 nodes, int32 [n, 1, 15] (node m at m - 1), p(1) =
    floor(4096 * ones / all) within 1 .. 4095. A forked LSTM child works out the first
    nibble's beside the rows (lstmzip.stages.lstm_bias), off the parent's step."""

    def __init__(self, device: torch.device):
        self.stretch = torch.from_numpy(stretch_table(squash_table()).astype(np.int32)).to(device)
        # node m's column m - 1: the values under its 1-branch; column 15 + m - 1: all under it
        # (a nibble's 16 frequencies times this are every node's two sums in one product; in
        # float64 exactly: each is a sum of at most 256 integers below 2^24)
        sums = np.zeros((16, 30))
        for node in range(1, 16):
            width = 16 >> (node.bit_length() - 1)
            first = (node - (1 << (node.bit_length() - 1))) * width
            sums[first + width // 2 : first + width, node - 1] = 1
            sums[first : first + width, 14 + node] = 1
        self.node_sums = torch.from_numpy(sums).to(device)

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        n = f.shape[0]
        sums = f.to(torch.float64) @ self.node_sums
        # floor(4096 * ones / all) by an IEEE division (the sums are below 2^32: the quotient's
        # rounding error, < 2^-41, cannot cross an integer, which a quotient that is not one
        # lies >= 2^-32 from)
        p = sums[:, :15].mul(4096).div_(sums[:, 15:]).floor_().clamp_(1, 4095).to(torch.int64)
        return self.stretch.index_select(0, p.view(-1)).view(n, 1, 15)


class MixStage:
    """Codes a byte as two nibbles: hi() gives the first nibble's 16 frequencies, lo(hi) the
    second's once the first is known, and update(y) learns on the byte's 8 nodes."""

    def __init__(self, cfg: MixConfig, rows: RowBatch, match=None):
        dev = rows.device
        sets = len(cfg.match_set_edges) + 1
        uses_match = sets > 1 or cfg.match_input
        if uses_match and match is None:
            raise ValueError("the mixing's match inputs need the match model")
        # kept only where read: method 11 skips the per-step look at the match model
        self.cfg, self.match = cfg, match if uses_match else None
        self.squash = torch.from_numpy(squash_table().astype(np.int32)).to(dev)
        self.lstm_nodes = LstmNodes(dev)
        self.stretch = self.lstm_nodes.stretch
        self.n_ctx = len(cfg.orders) + int(cfg.word) + len(cfg.own_orders) + cfg.word_history
        self.n_in = self.n_ctx + 2 + int(cfg.match_input)  # the LSTM, the contexts, (the match,) a constant
        B, C = rows.blocks, self.n_ctx
        bits = [table_bits(int(lay.lengths.sum()), cfg.bucket_bits) for lay in rows.layouts]
        # (with checks, one bucket more per block: where the updates that do not land go)
        per_block = np.array([(C << b) + int(cfg.check_bits > 0) for b in bits], dtype=np.int64)
        base = np.concatenate([[0], np.cumsum(per_block)[:-1]]).astype(np.int64)
        block = rows.block
        self.mask = torch.tensor([(1 << b) - 1 for b in bits], dtype=torch.int64, device=dev).index_select(0, block)
        # row r's first bucket of context j: its block's first bucket + j * buckets per table
        nb = (self.mask + 1).unsqueeze(1)
        first = torch.from_numpy(base).to(dev).index_select(0, block).unsqueeze(1)
        self.ctx_base = first + torch.arange(C, device=dev).unsqueeze(0) * nb
        self.entry_base = first * 16  # the block's first counter
        if cfg.check_bits:
            if not 0 < cfg.check_bits <= 7:
                raise ValueError("check_bits: 1 .. 7 (a check and 8 bits of visits share an int16)")
            # each block's last bucket (zeroed after each step: what lands there, in no fixed
            # order, is never read), and each row's
            self.sinks = torch.from_numpy(base + per_block - 1).to(dev)
            self.sink = self.sinks.index_select(0, block).unsqueeze(1)
        self.counters = zeros((int(per_block.sum()), 16), torch.int16, dev)
        self.order_mask = torch.tensor([(1 << (8 * k)) - 1 for k in cfg.orders], dtype=torch.int64, device=dev)
        self.order_salt = torch.tensor([(j + 1) * _K3 & _M63 for j in range(len(cfg.orders))], dtype=torch.int64, device=dev)
        # an own-stream table's salt: its place among the contexts (after the word), and the stream
        own = [(len(cfg.orders) + int(cfg.word) + j + 1) * _K3 & _M63 for j in range(len(cfg.own_orders))]
        self.own_mask = torch.tensor([(1 << (8 * k)) - 1 for k in cfg.own_orders], dtype=torch.int64, device=dev)
        self.own_salt = (torch.tensor(own, dtype=torch.int64, device=dev).unsqueeze(0)
                         + (rows.local.unsqueeze(1) + 1) * _K2).bitwise_and_(_M63)
        self.ctx = torch.zeros(rows.rows, dtype=torch.int64, device=dev)
        self.word = torch.zeros(rows.rows, dtype=torch.int64, device=dev)
        if cfg.word_history:  # the last words' hashes, the latest first
            if not cfg.word:
                raise ValueError("word_history needs the word context")
            self.words_before = torch.zeros((rows.rows, cfg.word_history), dtype=torch.int64, device=dev)
        # the int32 tables the mixing learns (weights, class weights, match cells, map) live in
        # one buffer, so that a step's updates of all of them are one scatter (_add_shares);
        # each table's base below is its place in that buffer
        tables: dict[str, torch.Tensor] = {}

        def table(name: str, t: torch.Tensor) -> int:
            start = sum(x.numel() for x in tables.values())
            tables[name] = t.view(-1)
            return start

        # one weight set per byte-tree node (node 0 unused); sets also chosen by how often the
        # highest order's bucket was seen (0, 1, 2-3, 4+) did worse on training-pool English and
        # Python, better on logs
        self.levels = len(cfg.conf_edges) + 1
        self.node_stride = self.levels * self.n_in  # a node's weights: n_in per confidence level
        w = torch.zeros((B, sets * 256 * self.levels, self.n_in), dtype=torch.int32, device=dev)
        w[:, :, 0] = 1 << 16  # the LSTM alone until the weights learn otherwise
        at = {"weights": table("weights", w)}  # first: a weight's index // node_stride is its set's (w_seen)
        if cfg.weight_warm:  # updates each weight set (block, set, node) has had
            self.w_seen = torch.zeros(B * sets * 256, dtype=torch.int32, device=dev)
            # the warm-up factor (Q4) per count n a set has had: 16 (warm_boost w + n) // (w + n),
            # 16 from n = w (16 warm_boost - 17) + 1 on (the counts read are capped there)
            warm = cfg.weight_warm
            had = np.arange(warm * max(16 * cfg.warm_boost - 17, 0) + 2)
            self.warm_mult = torch.from_numpy((16 * (cfg.warm_boost * warm + had)) // (warm + had)).to(torch.int32).to(dev)
        self.w_base = (block * sets * 256 * self.node_stride).unsqueeze(1)
        self.conf_edges = torch.tensor(cfg.conf_edges, dtype=torch.int64, device=dev)
        if cfg.class_weights:  # per block: (256 >> class_shift) classes x 2 nibbles x 4 depths
            classes = (256 >> cfg.class_shift) * 8
            at["class_w"] = table("class_w", torch.zeros(B * classes * self.n_in, dtype=torch.int32, device=dev))
            self.class_base = (block * classes * self.n_in).unsqueeze(1) + at["class_w"]
        self.set_edges = torch.tensor(cfg.match_set_edges, dtype=torch.int64, device=dev)
        if cfg.match_input:  # p(the predicted bit is right) per (block, length bucket), Q16
            # (cell 16 of each block takes the updates of nodes off the predicted path)
            at["match_p"] = table("match_p", torch.full((B * 17,), 3 << 14, dtype=torch.int32, device=dev))
            self.match_p_base = (block * 17).unsqueeze(1) + at["match_p"]
        # the map: 33 cells over the stretch range per (block, previous byte, node), Q16
        knots = torch.tensor(SQUASH_KNOTS, dtype=torch.int32, device=dev) << 4
        at["apm"] = table("apm", knots.repeat(B * 256 * 256))
        self.apm_base = (block * (256 * 256 * 33)).unsqueeze(1) + at["apm"]
        self.params = torch.cat(list(tables.values()))
        for name, t in tables.items():  # each table as a view (tests look at them)
            setattr(self, name, self.params[at[name] : at[name] + t.numel()])
        # per block and table a region of slots that count a step's updates aimed at one entry
        self.scratch = torch.zeros(len(_TABLES) * B << SCRATCH_BITS, dtype=torch.int32, device=dev)
        self.region_size = B << SCRATCH_BITS
        if cfg.shares not in ("mean", "sqrt"):
            raise ValueError(f"unknown shares {cfg.shares!r}")
        # a share's denominator q for every count c a step can give, as (32 u + q) // (2 q):
        # 16 c for "mean" (the same as (2 u + c) // (2 c)), round(16 sqrt(c)) for "sqrt";
        # kept as q / 16 (exact in float64), the divisor _add_shares takes
        most = max((lay.streams for lay in rows.layouts), default=1) * 16 * self.n_in
        denominators = [16 * c for c in range(most + 1)] + [(math.isqrt(1024 * c) + 1) // 2 for c in range(most + 1)]
        self.share_scale = torch.tensor(denominators, dtype=torch.float64, device=dev) / 16
        self.sqrt_from = most + 1  # where the sqrt denominators start
        self._ones = {dt: torch.ones(0, dtype=dt, device=dev) for dt in (torch.int16, torch.int32)}
        self._columns: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self._fixed: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}  # _add_shares' while all rows are active
        self.scratch_base = (block << SCRATCH_BITS).unsqueeze(1)
        self.const = torch.full((1, 1, 15), 256, dtype=torch.int32, device=dev)
        self.inputs = torch.arange(self.n_in, device=dev).view(1, -1, 1)
        # a nibble's node m = 1 .. 15 (depth e, m = 2^e + j) is byte-tree node m in the first
        # nibble, ((16 + hi) << e) + j in the second
        m = np.arange(1, 16)
        e = np.floor(np.log2(m)).astype(np.int64)
        self.first_nodes = torch.from_numpy(m.astype(np.int64)).to(dev).unsqueeze(0)
        self.second_nodes = torch.from_numpy(((16 + np.arange(16)[:, None]) << e) + (m - (1 << e))).to(dev)
        # per nibble value (0 .. 15): the nodes on its path (1 .. 15, depth 0 to 3) and its bits
        # there; per byte the same for both nibbles ([256, 8]): tables, not a step's shifts
        v = np.arange(16)[:, None]
        nib_nodes, nib_bits = (v | 16) >> (4 - np.arange(4)), (v >> (3 - np.arange(4))) & 1
        self.nib_node = torch.from_numpy(nib_nodes - 1).to(dev)  # [16, 4]: node - 1
        self.byte_nodes = torch.from_numpy(np.concatenate([nib_nodes[np.arange(256) >> 4], nib_nodes[np.arange(256) & 15]], 1)).to(dev)
        self.byte_bits = torch.from_numpy(np.concatenate([nib_bits[np.arange(256) >> 4], nib_bits[np.arange(256) & 15]], 1).astype(np.int32)).to(dev)
        # per byte the byte-tree nodes (1 .. 255) on its path
        self.byte_tree_nodes = torch.from_numpy((np.arange(256)[:, None] | 256) >> (8 - np.arange(8))).to(dev)
        low = np.arange(256) | 32
        self.is_letter = torch.from_numpy((low >= 97) & (low <= 122)).to(dev)
        self.node_depth = torch.from_numpy(e).to(dev).unsqueeze(0)  # [1, 15]: each nibble node's depth
        # per nibble value: whether each of the 15 nodes lies on its path, the bit it takes at each
        # node, and +1 / -1 / 0 (on the path, towards a 1 / a 0; off it): the match input's tables
        values = torch.arange(16, device=dev).unsqueeze(1)
        self.on_path = torch.arange(1, 16, device=dev).unsqueeze(0) == ((values | 16) >> (4 - self.node_depth))
        self.path_bit = (values >> (3 - self.node_depth)) & 1
        self.path_sign = torch.where(self.on_path, 2 * self.path_bit - 1, 0).to(torch.int32)
        # a node's class weights within its class: (nibble * 4 + depth) * inputs + input, for
        # nibble 0, 1 and depth 0 .. 3 (a byte's path, and each nibble's 4 depths): [1, inputs, 8]
        self.class_path = (torch.arange(8, device=dev) * self.n_in).view(1, 1, 8) + self.inputs
        self._hi_inputs: tuple | None = None  # prepare_hi's, for the coming step
        self._path_bufs: list[torch.Tensor] = []  # _path's, for the latest row count

    def prepare_hi(self, act: torch.Tensor | None) -> None:
        """The first nibble's inputs that do not depend on the LSTM (contexts, counters, weights,
        the match model's prediction: MatchStage.prepare first), read before its frequencies are
        there."""
        self._act = act
        c = pick(self.ctx, act).unsqueeze(1)
        n = c.shape[0]
        keys = [((c & self.order_mask) + 1) * _K1 + self.order_salt]
        if self.cfg.word:  # (word_history needs it: its keys take `word` too)
            word = pick(self.word, act).unsqueeze(1) + 7
            keys.append(word * _K2 + (c & 0xFF) * _K3)
        if self.cfg.own_orders:
            keys.append(((c & self.own_mask) + 1) * _K1 + pick(self.own_salt, act))
        if self.cfg.word_history:  # key k: the last k words (a running hash), the word, the byte
            before = pick(self.words_before, act)
            this = word * _K3 + (c & 0xFF) * _K2
            h = torch.zeros_like(this)
            for k in range(self.cfg.word_history):
                h = (h + before[:, k : k + 1] + 13) * _K1
                keys.append(h + this)
        self._keys = torch.cat(keys, dim=1).bitwise_and_(_M63)  # [n, C]
        self._prev = c.squeeze(1) & 0xFF
        # what both nibbles' map cells and class weights start from this step
        self._cells_base = pick(self.apm_base, act) + self._prev.unsqueeze(1) * (256 * 33)
        if self.cfg.class_weights:
            self._class_base = ((self._prev >> self.cfg.class_shift) * (8 * self.n_in)).unsqueeze(1) + pick(self.class_base, act)
        self._w_base = pick(self.w_base, act)
        self._m_nodes: list[tuple[torch.Tensor, torch.Tensor]] = []  # (on the path, predicted bit)
        if self.match is not None:  # what the match model predicts this step (MatchStage.prepare)
            has, pred = self.match.has, self.match.predicted
            length = pick(self.match.length, act)
            if self.cfg.match_set_edges:
                m_set = torch.where(has, torch.searchsorted(self.set_edges, length, right=True), 0)
                self._w_base = self._w_base + (m_set * (256 * self.node_stride)).unsqueeze(1)
            if self.cfg.match_input:
                self._m_has, self._m_pred = has, pred
                self._m_cell = (torch.searchsorted(self.match.len_edges, length, right=True)
                                + pick(self.match_p_base, act).squeeze(1))
                p = self.params.index_select(0, self._m_cell)  # the input's size, both nibbles
                self._m_st = self.stretch.index_select(0, (p >> 4).clamp_(1, 4095)).unsqueeze(1)
        predicted = (self._m_pred >> 4, self._m_has) if self.cfg.match_input else None
        self._hi_inputs = self._nibble_inputs(0, self.first_nodes.expand(n, 15), predicted)

    def hi(self, freqs: torch.Tensor, act: torch.Tensor | None, lstm_in: torch.Tensor | None = None) -> torch.Tensor:
        """int64 or int32 [n, 256] frequencies of the active rows (and the first nibble's
        LstmNodes of them, where worked out elsewhere) -> int64 [n, 16] for the first nibble."""
        if self._hi_inputs is None:
            self.prepare_hi(act)
        n = freqs.shape[0]
        self._f = freqs.view(n, 16, 16)
        if lstm_in is None:
            lstm_in = self.lstm_nodes(self._f.sum(2))
        self._first = self._nibble(lstm_in, self._hi_inputs)
        self._hi_inputs = None
        return self._first[-1]

    def lo(self, hi: torch.Tensor) -> torch.Tensor:
        """The first nibble (int64 [n]) -> int64 [n, 16] for the second."""
        n = hi.shape[0]
        f = self._f.gather(1, hi.view(n, 1, 1).expand(n, 1, 16)).squeeze(1)
        predicted = (self._m_pred & 15, self._m_has & (hi == self._m_pred >> 4)) if self.cfg.match_input else None
        self._second = self._nibble(self.lstm_nodes(f), self._nibble_inputs(hi + 1, self.second_nodes.index_select(0, hi), predicted))
        return self._second[-1]

    def peek_lo(self, hi: torch.Tensor) -> torch.Tensor:
        """lo(hi)'s table for another first nibble than the coded one, keeping nothing for
        update (lstmzip explain's top predictions in the other nibbles' subtrees)."""
        kept = self._second, list(self._m_nodes)
        try:
            return self.lo(hi)
        finally:
            self._second, self._m_nodes = kept

    def _path(self, y: torch.Tensor) -> list[torch.Tensor]:
        """The values of both nibbles (_nibble's) at the 8 nodes on the path of the coded bytes
        y (int64 [n]), for update: p16 [n, C, 8], x, w_at [n, inputs, 8], p_mix, cell, frac
        [n, 8] (and the match input's on the path, predicted bit [n, 8]). Each nibble's values
        are gathered into their half of buffers kept while the row count stays (no
        concatenation)."""
        n = y.shape[0]
        values = [list(res[2:8]) for res in (self._first, self._second)]
        if self.cfg.match_input:
            for k in range(2):
                values[k] += self._m_nodes[k]
        bufs = self._path_bufs
        if not bufs or bufs[0].shape[0] != n:  # (kept for the latest row count only)
            bufs = self._path_bufs = [torch.empty((*v.shape[:-1], 8), dtype=v.dtype, device=v.device) for v in values[0]]
        for k, nib in enumerate((y >> 4, y & 15)):
            i = self.nib_node.index_select(0, nib)  # [n, 4]: node - 1
            for v, buf in zip(values[k], bufs):
                at = i if v.dim() == 2 else i.unsqueeze(1).expand(n, v.shape[1], 4)
                torch.gather(v, v.dim() - 1, at, out=buf[..., 4 * k : 4 * k + 4])
        return bufs

    def _nibble_inputs(self, salt: int | torch.Tensor, nodes: torch.Tensor,
                       predicted: tuple[torch.Tensor, torch.Tensor] | None) -> tuple:
        """What a nibble needs besides the LSTM: its buckets' salt (0 for the first, 1 + the first
        nibble for the second), its 15 byte-tree nodes [n, 15] and, with the match input, the
        match model's predicted nibble and whether it holds here -> its buckets, their counters,
        the inputs of the contexts (and the match), the weights and the map's cells."""
        n, C = nodes.shape[0], self.n_ctx
        salt = salt if isinstance(salt, int) else salt.unsqueeze(1)
        h = (self._keys + salt * _K2) * _K1 >> 30  # (no & M: it would change bit 63 only, above the mask)
        buckets = (h & pick(self.mask, self._act).unsqueeze(1)) + pick(self.ctx_base, self._act)  # [n, C]
        if self.cfg.check_bits:  # a bucket whose check is not the context's: fresh counters, read
            # from the sink (zero between steps)
            check = (h >> CHECK_SHIFT) & ((1 << self.cfg.check_bits) - 1)
            stored = self.counters.view(-1).index_select(0, buckets.view(-1) * 16).view(n, C).to(torch.int64)
            read = torch.where((stored >> 8) == check, buckets, pick(self.sink, self._act))
            got = self.counters.index_select(0, read.view(-1)).view(n, C, 16)
            visits = got[:, :, 0] & CHECKED_VISITS
            buckets = torch.stack([buckets, check, stored])  # (for update)
        else:
            got = self.counters.index_select(0, buckets.view(-1)).view(n, C, 16)
            visits = got[:, :, 0]
        p16 = got[:, :, 1:].to(torch.int32).add_(P_HALF)  # 0 .. 65535: int16 + 2^15
        xs = [self.stretch.index_select(0, (p16 >> 4).view(-1)).view(n, C, 15)]
        if predicted is not None:
            xs.append(self._match_input(*predicted))
        # a weight's place: its node's set, its input (the contexts' at their buckets' confidence
        # levels), per row and input first, then spread over the 15 nodes ([n, inputs, 15])
        by_input = self._w_base + self.inputs.view(1, -1)
        if self.levels > 1:
            by_input[:, 1 : 1 + C] += torch.searchsorted(self.conf_edges, visits.to(torch.int64), right=True) * self.n_in
        w_at = by_input.unsqueeze(2) + (nodes * self.node_stride).unsqueeze(1)
        w = self.weights.index_select(0, w_at.view(-1)).view(n, self.n_in, 15)
        if self.cfg.class_weights:  # a node's class weights are its depth's: read 4, spread to 15
            nibble = 0 if isinstance(salt, int) else 1  # the first nibble's salt is 0
            class_at = self._class_base.unsqueeze(1) + self.class_path[:, :, 4 * nibble : 4 * nibble + 4]
            by_depth = self.params.index_select(0, class_at.reshape(-1)).view(n, self.n_in, 4)
            w = w.add_(by_depth.index_select(2, self.node_depth.view(-1)))
        cells = self._cells_base + nodes * 33
        return buckets, visits, p16, xs, w_at, w, cells

    def _nibble(self, st_lstm: torch.Tensor, inputs: tuple) -> tuple:
        """One nibble: the LSTM's input (LstmNodes') and _nibble_inputs' -> what update needs,
        the 16 frequencies last."""
        buckets, visits, p16, xs, w_at, w, cells = inputs
        n = st_lstm.shape[0]
        x = torch.cat([st_lstm] + xs + [self.const.expand(n, 1, 15)], dim=1)  # [n, inputs, 15]
        dot = (x.to(torch.int64) * w).sum(1).bitwise_right_shift_(16).clamp_(-ST_MAX, ST_MAX)
        p_mix = self.squash.index_select(0, (dot + ST_MAX).view(-1)).view(n, 15)
        s = dot + ST_MAX + 1  # 1 .. 4095: cell s >> 7 and the next, weighted by s & 127
        cell = cells + (s >> 7)
        lo = self.params.index_select(0, cell.view(-1)).view(n, 15)
        hi = self.params.index_select(0, (cell + 1).view(-1)).view(n, 15)
        frac = s & 127
        p_apm = (lo * (128 - frac) + hi * frac) >> 11
        p = ((p_mix + 3 * p_apm) >> 2 if self.cfg.apm else p_mix).clamp_(1, 4095)
        return buckets.unsqueeze(-1), visits.unsqueeze(2), p16, x, w_at, p_mix, cell, frac, _nibble_freqs(p)

    def _match_input(self, pred: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """The predicted nibble and whether the prediction holds (int64, bool [n]) -> the input
        [n, 1, 15]: +-stretch(p) on the predicted nibble's path (+ where it predicts a 1), 0
        elsewhere. Keeps the nodes on the path and the bits predicted there for update."""
        valid = valid.unsqueeze(1)
        self._m_nodes.append((self.on_path.index_select(0, pred) & valid, self.path_bit.index_select(0, pred)))
        return (self.path_sign.index_select(0, pred) * (self._m_st * valid)).unsqueeze(1)

    def update(self, y: torch.Tensor, act: torch.Tensor | None) -> None:
        """After the step that coded y (int64 [n], the active rows): learn on y's 8 nodes, shift y in."""
        cfg = self.cfg
        n, C = y.shape[0], self.n_ctx
        m = self.byte_nodes.index_select(0, y)  # [n, 8]: each nibble's path, nodes 1 .. 15
        bit = self.byte_bits.index_select(0, y)  # [n, 8] int32: the bits there
        # the two nibbles' buckets and visits [n, C, 2]; their values on y's path [.., 8]
        buckets, visits = (torch.cat([a, b], dim=-1) for a, b in zip(self._first[:2], self._second[:2]))
        if cfg.check_bits:
            buckets, check = self._take_buckets(*buckets, visits, act)
        path = self._path(y)
        p_old, xs, wa, p_mix, c0, fr = path[:6]
        # counters: p += (target - p) / (min(visits, limit) + 1.5), a nibble's bucket for its 4
        # nodes ([n, C, 2, 4])
        # (the integer quotient, in float64 as _add_shares takes it: |numerator| < 2^18, so the
        # correctly rounded quotient floors to the integer one)
        den = visits.to(torch.float64).clamp_(0, cfg.rate_limit).mul_(2).add_(3).unsqueeze(3)
        step = ((P_LOW + bit.unsqueeze(1) * (P_HIGH - P_LOW) - p_old) * 2).to(torch.float64).view(n, C, 2, 4).div_(den).floor_()
        b16 = buckets * 16
        entry = b16.unsqueeze(3) + m.view(n, 1, 2, 4)
        flat = self.counters.view(-1)
        adds = [("counters", entry.view(n, -1), pick(self.entry_base, act), step.view(n, -1))]
        seen = b16.view(-1)  # slot 0: the bucket's visits, capped
        flat.scatter_add_(0, seen, self._ones_of(torch.int16, seen.numel()))
        if cfg.check_bits:  # visits below the check: (v - check * 256) mod 2^16 is the true count
            above = (check << 8).view(-1)
            got = (flat.gather(0, seen).to(torch.int64) - above).bitwise_and_(0xFFFF).clamp_(max=CHECKED_VISITS)
            flat.scatter_(0, seen, got.add_(above).to(torch.int16))
        else:
            flat.scatter_(0, seen, flat.gather(0, seen).clamp_(0, COUNT_CAP))
        # mixer: w += x * (bit - p_mix) >> mix_shift (times the warm-up factor)
        err = (bit << 12) - p_mix
        if cfg.weight_warm:  # the factor in Q4, from the set's count before this step
            # (a set's weights are those of its byte-tree node: its number is the node's)
            set_ids = (self._w_base // self.node_stride + self.byte_tree_nodes.index_select(0, y)).view(-1)
            had = self.w_seen.index_select(0, set_ids).clamp_(max=len(self.warm_mult) - 1)
            mult = self.warm_mult.index_select(0, had).view(n, 1, 8)
            # (|x * err * mult| < 2^11 * 2^12 * 2^6: int32)
            g = (xs * (err.unsqueeze(1) * mult) + (1 << (cfg.mix_shift + 3))) >> (cfg.mix_shift + 4)
            self.w_seen.scatter_add_(0, set_ids, self._ones_of(torch.int32, set_ids.numel()))
        else:
            g = (xs * err.unsqueeze(1) + (1 << (cfg.mix_shift - 1))) >> cfg.mix_shift
        adds.append(("weights", wa.view(n, -1), pick(self.w_base, act), g.view(n, -1)))
        if cfg.class_weights:  # (the class weights' places on the path: class_path)
            ca = self._class_base.unsqueeze(1) + self.class_path
            adds.append(("class_w", ca.view(n, -1), pick(self.class_base, act), (g >> cfg.class_step).view(n, -1)))
        if cfg.match_input:  # the nodes of y's path that the prediction covered: was it right?
            on, expect = path[-2:]
            right = (expect == bit).to(torch.int32)
            base = pick(self.match_p_base, act)
            m_cell = torch.where(on, self._m_cell.unsqueeze(1), base + 16)
            cur = self.params.index_select(0, m_cell.view(-1)).view(n, 8)
            move = ((right * 65535 - cur) >> cfg.match_rate) * on
            adds.append(("match_p", m_cell, base, move))
        if cfg.apm:  # map: both cells move towards the bit, each by its interpolation weight
            cells = torch.cat([c0, c0 + 1], 1)
            share = torch.cat([128 - fr, fr], 1)
            cur = self.params.index_select(0, cells.view(-1)).view(n, 16)
            move = (((bit * 65535).unsqueeze(1) - cur.view(n, 2, 8)) * share.view(n, 2, 8)
                    + (1 << (6 + cfg.apm_rate))) >> (7 + cfg.apm_rate)
            adds.append(("apm", cells, pick(self.apm_base, act), move.view(n, 16)))
        self._add_shares(adds, act)
        if cfg.check_bits:
            self.counters.index_fill_(0, self.sinks, 0)
        c = pick(self.ctx, act)
        put(self.ctx, act, ((c << 8) | y) & ((1 << 56) - 1))
        if cfg.word:
            low = y | 32
            letter = self.is_letter.index_select(0, y)
            word = pick(self.word, act)
            if cfg.word_history:  # a word that ends becomes the latest of the words before
                before = pick(self.words_before, act)
                shifted = torch.cat([word.unsqueeze(1), before[:, :-1]], dim=1)
                put(self.words_before, act, torch.where((letter | (word == 0)).unsqueeze(1), before, shifted))
            put(self.word, act, torch.where(letter, ((word + low) * _WORD_MULT) & _WORD_MASK, 0))

    def _take_buckets(self, buckets: torch.Tensor, check: torch.Tensor, stored: torch.Tensor, visits: torch.Tensor,
                      act: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Checked buckets: the contexts' buckets, checks, the buckets' slot 0 as read, the
        visits [n, C, 2] -> the buckets their updates land in, and the checks. Each bucket goes
        to the highest claim on it this step: a context whose check it holds (it stays), else
        the largest check (it is reset: fresh counters under that check) unless it has been seen
        check_keep times (it stays, its visits less one); the updates of the contexts that lost go to
        the block's sink bucket. The same whatever the order of the rows."""
        flat = self.counters.view(-1)
        hit = (stored >> 8) == check
        kept = (stored & CHECKED_VISITS) >= self.cfg.check_keep
        claim = torch.where(hit, 256, check - kept * 128)  # (-128 .. -1: a claim that cannot win)
        slot = (buckets * 16).view(-1)
        # (below every claim first: ~2x faster than include_self=False on the CPU)
        flat.scatter_(0, slot, torch.full((), -1 << 15, dtype=torch.int16, device=slot.device).expand(slot.numel()))
        flat.scatter_reduce_(0, slot, claim.view(-1).to(torch.int16), "amax")
        best = flat.gather(0, slot).view(claim.shape)
        won = (best == claim) & (claim >= 0)
        sink = pick(self.sink, act).unsqueeze(2)
        # a reset bucket's slots all zero, then slot 0: where won, as its winners read it (their
        # check; their visits, 0 where reset); where kept against every claim, one visit less
        # (a bucket as 4 int64: ~1.7x faster than as 16 int16 on the CPU)
        self.counters.view(torch.int64).index_fill_(0, torch.where(won & ~hit, buckets, sink).view(-1), 0)
        at = torch.where(won | (best < 0), buckets, sink) * 16
        flat.scatter_(0, at.view(-1), torch.where(won, (check << 8) + visits, stored - 1).view(-1).to(torch.int16))
        return torch.where(won, buckets, sink), check

    def _ones_of(self, dtype: torch.dtype, n: int) -> torch.Tensor:
        """n ones (a slice of a kept buffer: a step allocates none)."""
        if self._ones[dtype].numel() < n:
            self._ones[dtype] = torch.ones(n, dtype=dtype, device=self._ones[dtype].device)
        return self._ones[dtype][:n]

    def _add_shares(self, adds: list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]],
                    act: torch.Tensor | None) -> None:
        """For each (table, at [n, m], block_first [n, 1], step [n, m]): table[at] += step's share
        (FORMAT.md 5.4): step / c rounded ("mean"; the counters and match cells always), or
        step * 16 / round(16 sqrt(c)) ("sqrt": weights, class weights and map), c the number
        of steps aimed at that entry's key, counted in slots of the row's own block and table:
        the count, and the result, depend only on that block's rows. One scatter counts every
        table's steps; the counters are int16 (their entries first), the rest of the tables are
        one int32 buffer (`params`). The work is laid out row by row ([n, entries]: no transposed
        copies), the counters' columns first."""
        names = tuple(name for name, *_ in adds)
        widths = tuple(at.shape[1] for _, at, *_ in adds)
        n = adds[0][1].shape[0]
        if (names, widths) not in self._columns:  # per column: its table's scratch region and denominators
            # the slices below rely on this order: the counters, then the clamped weight tables
            assert list(names) == sorted(names, key=_TABLES.index) and names[0] == "counters", names
            sqrt = self.cfg.shares == "sqrt"
            region = [_TABLES.index(nm) * self.region_size for nm, w in zip(names, widths) for _ in range(w)]
            den = [self.sqrt_from if sqrt and nm in _SQRT_TABLES else 0 for nm, w in zip(names, widths) for _ in range(w)]
            # the weights stay within +-W_LIMIT, clamped after their steps (the other int32
            # tables not: their columns' limit is int32's)
            limit = [W_LIMIT if nm in ("weights", "class_w") else 2**31 - 1 for nm, w in zip(names[1:], widths[1:]) for _ in range(w)]
            dev = self.scratch.device
            self._columns[names, widths] = tuple(torch.tensor(v, dtype=dt, device=dev).unsqueeze(0) for v, dt in
                                                 ((region, torch.int64), (den, torch.int32), (limit, torch.int32)))
        region, den_from, limit = self._columns[names, widths]
        # per entry its block's first entry of the table and its scratch slots' start: the same
        # every step while all rows are active
        fixed = self._fixed.get((names, widths)) if act is None else None
        if fixed is None:
            first = torch.cat([f.expand(n, w) for (_, _, f, _), w in zip(adds, widths)], 1)
            fixed = (first, region + pick(self.scratch_base, act))
            if act is None:
                self._fixed[names, widths] = fixed
        first, slots = fixed
        at = torch.cat([a for _, a, *_ in adds], 1)  # [n, entries]
        # the key, in place: ((e * K2) & M) >> 40 & mask is (e * K2) >> 40 & mask (the & M only
        # clears bit 63, which the mask drops)
        key = (at - first).mul_(_K2).bitwise_right_shift_(40).bitwise_and_((1 << SCRATCH_BITS) - 1)
        key = key.add_(slots).view(-1)
        # (1-D scatters: 1.8x index_add_'s speed on the CPU alone, no measurable change in a step)
        self.scratch.scatter_add_(0, key, self._ones_of(torch.int32, key.numel()))
        count = self.scratch.gather(0, key)
        q = self.share_scale.index_select(0, count.view(n, -1).add_(den_from).view(-1))
        self.scratch.scatter_(0, key, count.zero_())
        # (32 u + q) // (2 q) = floor(u / (q / 16) + 1/2), in float64: |u| < 2^16 and q < 2^24,
        # so the quotient is correctly rounded far closer than 1 / (2 q) to the true one, and the
        # floor is the integer one (an IEEE division, the same on every device; 2.4x faster than
        # an integer division on the CPU)
        step = torch.cat([s for *_, s in adds], 1).view(-1).to(torch.float64)
        share = step.div_(q).add_(0.5).floor_().to(torch.int32).view(n, -1)
        k = widths[0]  # the counters
        # int16 counters: a share may not fit, but sums wrap modulo 2^16 and every entry's true
        # result lies in int16's range (P_LOW, P_HIGH), so the wrapped sum is that result
        self.counters.view(-1).scatter_add_(0, at[:, :k].reshape(-1), share[:, :k].reshape(-1).to(torch.int16))
        rest = at[:, k:].reshape(-1)
        self.params.scatter_add_(0, rest, share[:, k:].reshape(-1))
        self.params.scatter_(0, rest, self.params.gather(0, rest).view(n, -1).clamp_(-limit, limit).view(-1))


def _nibble_freqs(p: torch.Tensor) -> torch.Tensor:
    """A nibble's node probabilities [n, 15] (1/4096, node m at m - 1) -> its 16 values'
    frequencies: the product along each path from 2^24, floored at every node, at least 1."""
    n = p.shape[0]
    one = p[:, :1].to(torch.int64) << 12  # the root: 2^24 * p >> 12
    prob = torch.cat([(1 << 24) - one, one], dim=1)
    for e in range(1, 4):
        one = (prob * p[:, (1 << e) - 1 : (2 << e) - 1]).bitwise_right_shift_(12)
        prob = torch.stack([prob.sub_(one), one], dim=2).view(n, -1)
    return prob.clamp_(min=1)
