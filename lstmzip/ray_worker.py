"""The Ray actor that codes blocks on a scale-out worker (see lstmzip.scaleout).

Each worker keeps one engine per model, built the first time a job names that model (the
model file's bytes come through Ray's object store, so a node needs lstmzip installed but
not the model file). A block is coded exactly as `lstmzip compress` codes it in-process,
so the archive does not depend on which worker, node or device coded which block.
"""
from __future__ import annotations

import os
import socket


class BlockCoder:
    def __init__(self, device: str, threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        self.device = device
        self._engines: dict = {}

    def info(self) -> dict:
        import ray

        from lstmzip import __version__
        from lstmzip.models.fixed_point import ENGINE_VERSION

        return {"pid": os.getpid(), "host": socket.gethostname(), "node": ray.get_runtime_context().get_node_id(),
                "device": self.device, "version": __version__, "engine": ENGINE_VERSION}

    def _engine(self, sha256: str, model_ref: list):
        if sha256 not in self._engines:
            import ray

            from lstmzip.models.int_engine import IntegerLSTM
            from lstmzip.models.model_file import from_bytes

            # The ref comes wrapped in a list so Ray does not fetch the model with every job.
            model = from_bytes(ray.get(model_ref[0]))
            if model.sha256 != sha256:
                raise RuntimeError(f"model bytes do not match sha256 {sha256[:16]}")
            self._engines[sha256] = IntegerLSTM(model.qmodel, device=self.device)
        return self._engines[sha256]

    def compress(self, sha256: str, model_ref: list, data: bytes, config):
        from lstmzip.pipeline import compress_block

        engine = self._engine(sha256, model_ref) if config.lstm else None
        return compress_block(engine, data, config)

    def decompress(self, sha256: str, model_ref: list, header, payload: bytes, index: int):
        """(True, bytes) or (False, message) for a damaged block (reported, not raised: the
        driver tells a damaged block from a lost worker)."""
        from lstmzip.errors import BlockDamaged
        from lstmzip.pipeline import decompress_block

        try:
            return True, decompress_block(lambda: self._engine(sha256, model_ref), header, payload, index)
        except BlockDamaged as e:
            return False, str(e)
