"""The float LSTM used for training; `models.quantize` turns it into the integer model."""
from __future__ import annotations

import torch
from torch import nn

from lstmzip.models.config import ModelConfig


class FloatLSTM(nn.Module):
    """Embedding -> stacked LSTM -> linear head reading the concatenated h of every layer.

    Layers are separate nn.LSTM modules so the head can see every layer's output (a skip
    connection that helps small byte models) and the quantiser can address each one.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.embed)
        self.lstms = nn.ModuleList(
            nn.LSTM(cfg.embed if i == 0 else cfg.hidden, cfg.hidden, batch_first=True)
            for i in range(cfg.layers)
        )
        self.head = nn.Linear(cfg.hidden * cfg.layers, cfg.vocab)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        h = self.cfg.hidden
        for lstm in self.lstms:
            for name, p in lstm.named_parameters():
                if name.startswith("bias"):
                    nn.init.zeros_(p)
                    if name == "bias_ih_l0":
                        p.data[h : 2 * h] = 1.0  # forget-gate bias 1 (gate order i, f, g, o)
        nn.init.normal_(self.embed.weight, std=0.5)

    def initial_state(self, batch: int, device=None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        z = torch.zeros(1, batch, self.cfg.hidden, device=device)
        return [(z.clone(), z.clone()) for _ in range(self.cfg.layers)]

    def forward(self, x: torch.Tensor, state=None):
        """x: [B, T] int64 bytes -> logits [B, T, 256], new state (detached by the caller)."""
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        out = self.embed(x)
        hs, new_state = [], []
        for lstm, st in zip(self.lstms, state):
            out, st2 = lstm(out, st)
            hs.append(out)
            new_state.append(st2)
        return self.head(torch.cat(hs, dim=-1)), new_state
