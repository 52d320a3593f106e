"""Architecture of an lstmzip model: the one description shared by training and inference."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelConfig:
    """A byte-level LSTM: embedding -> `layers` stacked LSTMs -> linear head over all layers' h."""

    layers: int = 2
    hidden: int = 256
    embed: int = 64
    vocab: int = 256

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**{k: int(d[k]) for k in ("layers", "hidden", "embed", "vocab")})

    def validate(self) -> None:
        if not (1 <= self.layers <= 8 and 8 <= self.hidden <= 4096 and 1 <= self.embed <= 4096):
            raise ValueError(f"unsupported model shape {self}")
        if self.vocab != 256:
            raise ValueError("lstmzip models are byte models: vocab must be 256")
