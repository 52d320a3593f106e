"""Block methods that run on the device stages: one row each (which stages, which versions)."""
from __future__ import annotations

from dataclasses import dataclass

from lstmzip.container import Method
from lstmzip.stages.host.context_bias import BIAS_V2, BIAS_V8, BIAS_V9, BIAS_V10, BiasConfig
from lstmzip.stages.host.match_model import MATCH_V2, MATCH_V7, MatchConfig
from lstmzip.stages.mix import (MIX_V1, MIX_V2, MIX_V3, MIX_V4, MIX_V5, MIX_V6, MIX_V7, MIX_V8, MIX_V9, MIX_V10,
                               MIX_V11, MIX_V12, MixConfig)
from lstmzip.stream_layout import Ramp


# Streams that join later find the block's tables (and the match model's history) already
# filled, and start from a running stream's LSTM state. Chosen on training-pool text, method 14
# (logs / Python / English novel, bpc): plain 0.4607 / 1.0563 / 1.7513; ramp (first, double)
# (64, 16) 0.4553 / 1.0535 / 1.7491, warm-started 0.4507 / 1.0471 / 1.7510; (32, 8) warm
# 0.4528 / 1.0446 / 1.7509; (128, 32) warm 0.4502 / 1.0491 / 1.7504; (16, 4) warm 0.4565 / 1.0505 /
# 1.7501. Steps for book1 (375 streams): 2,051 plain, 2,221 with this ramp, 2,731 with methods
# 6-9's RAMP_V1 (256, 64).
RAMP_V2 = Ramp(first=64, double=16)


@dataclass(frozen=True)
class Recipe:
    bias: BiasConfig
    match: MatchConfig
    # streams per rANS coder (lstmzip.stages.rans): each coder costs ~6 bytes, so fewer
    # coders mean smaller archives, more of them fewer sequential sub-steps per step
    coder_group: int = 8
    # context mixing after the match model (lstmzip.stages.mix); None: the match model's table is coded
    mix: MixConfig | None = None
    # None: every stream starts at step 0; else later streams join later (lstmzip.stream_layout)
    ramp: Ramp | None = None
    # a stream that joins a ramped layout starts from a running stream's LSTM state
    warm_start: bool = False

    @property
    def parts(self) -> int:
        """Coded symbols per byte: the byte itself, or with mixing its two nibbles."""
        return 1 if self.mix is None else 2


RECIPES: dict[Method, Recipe] = {
    # method 4's stages, coded by interleaved rANS on the engine's device
    Method.LSTM_RANS: Recipe(BIAS_V2, MATCH_V2),
    # method 10 plus counters of orders 1-6 and the word, mixed with the LSTM bit by bit
    Method.LSTM_MIX: Recipe(BIAS_V2, MATCH_V2, mix=MIX_V1),
    # method 11 with the match model's prediction as a mixer input and weight sets by its length
    Method.LSTM_MIX2: Recipe(BIAS_V2, MATCH_V2, mix=MIX_V2),
    # method 12 with a step's updates shared by sqrt, fresh weight sets learning faster, and
    # weights keyed by the previous byte's class
    Method.LSTM_MIX3: Recipe(BIAS_V2, MATCH_V2, mix=MIX_V3),
    # method 13 with each context's weight chosen by how often its bucket was seen
    Method.LSTM_MIX4: Recipe(BIAS_V2, MATCH_V2, mix=MIX_V4),
    # method 14 in a ramped layout whose joining streams start from a running stream's LSTM state
    Method.LSTM_MIX5: Recipe(BIAS_V2, MATCH_V2, mix=MIX_V4, ramp=RAMP_V2, warm_start=True),
    # method 15 with matches also found by the last 12 bytes (the stream's own first), and a
    # third weight set for matches of 48 bytes or more
    Method.LSTM_MIX6: Recipe(BIAS_V2, MATCH_V7, mix=MIX_V5, ramp=RAMP_V2, warm_start=True),
    # method 16 with the context bias's orders 2, 4 and 7 only (the default model's in 0.24-0.25)
    Method.LSTM_MIX7: Recipe(BIAS_V8, MATCH_V7, mix=MIX_V5, ramp=RAMP_V2, warm_start=True),
    # method 16 plus counters of orders 2 and 4 kept per stream (in 0.25 the default model's for
    # repetitive blocks, the python model's above 16 KiB)
    Method.LSTM_MIX8: Recipe(BIAS_V2, MATCH_V7, mix=MIX_V6, ramp=RAMP_V2, warm_start=True),
    # method 18 with tables of the last word and the last two words, and orders 3, 4, 6 (the
    # default model's in 0.26)
    Method.LSTM_MIX9: Recipe(BIAS_V8, MATCH_V7, mix=MIX_V7, ramp=RAMP_V2, warm_start=True),
    # method 19 with those tables, and orders 2, 3, 4, 6 (in 0.26 the default model's for
    # repetitive blocks, the python model's above 16 KiB)
    Method.LSTM_MIX10: Recipe(BIAS_V2, MATCH_V7, mix=MIX_V8, ramp=RAMP_V2, warm_start=True),
    # method 18 with the tables of the last words beside orders 1-6 (in 0.26 the default model's
    # for blocks of up to 16 KiB that are not repetitive)
    Method.LSTM_MIX11: Recipe(BIAS_V8, MATCH_V7, mix=MIX_V9, ramp=RAMP_V2, warm_start=True),
    # methods 20-22 with a check in each counter bucket (a context that finds another's bucket
    # starts fresh there) and the context bias in 16-bit entries; the repetitive blocks' also
    # with a table of the last three words (the default model's methods)
    Method.LSTM_MIX12: Recipe(BIAS_V9, MATCH_V7, mix=MIX_V10, ramp=RAMP_V2, warm_start=True),
    Method.LSTM_MIX13: Recipe(BIAS_V10, MATCH_V7, mix=MIX_V11, ramp=RAMP_V2, warm_start=True),
    Method.LSTM_MIX14: Recipe(BIAS_V9, MATCH_V7, mix=MIX_V12, ramp=RAMP_V2, warm_start=True),
}
