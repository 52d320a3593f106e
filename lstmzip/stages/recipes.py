"""Block methods that run on the device stages: one row each (which stages, which versions)."""
from __future__ import annotations

from dataclasses import dataclass

from lstmzip.container import Method
from lstmzip.stages.host.context_bias import BIAS_V2, BiasConfig
from lstmzip.stages.host.match_model import MATCH_V2, MatchConfig
from lstmzip.stages.mix import MIX_V1, MIX_V2, MIX_V3, MIX_V4, MixConfig


@dataclass(frozen=True)
class Recipe:
    bias: BiasConfig
    match: MatchConfig
    # streams per rANS coder (lstmzip.stages.rans): each coder costs ~6 bytes, so fewer
    # coders mean smaller archives, more of them fewer sequential sub-steps per step
    coder_group: int = 8
    # context mixing after the match model (lstmzip.stages.mix); None: the match model's table is coded
    mix: MixConfig | None = None

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
}
