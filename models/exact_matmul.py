"""Exact int8 x int8 -> int32 matrix products, whatever the backend.

`torch._int_mm` is exact where the kernel accumulates in int32 without saturation. Some CPU
kernels without VNNI saturate int16 partial sums, so it is used only after a self-test with
worst-case operands on this device; otherwise a float GEMM is used, which is exact too as
long as every partial sum is an integer below 2^24 (float32) or 2^53 (float64).

Both give the same integers, so on the CPU the faster one is picked by a quick timing, per
batch-size class: on a CPU without VNNI (AVX2 only) `_int_mm` ran 4-30x slower than the
float32 GEMM; with VNNI it was the faster one at large batches.
"""
from __future__ import annotations

import functools
import time

import torch

_FLOAT32_EXACT_K = (1 << 24) // (127 * 127)  # 1040


def _float_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    dtype = torch.float32 if a.shape[1] <= _FLOAT32_EXACT_K else torch.float64
    return (a.to(dtype) @ b.to(dtype)).to(torch.int32)


@functools.lru_cache(maxsize=None)
def int_mm_is_exact(device: str) -> bool:
    """Does torch._int_mm give exact results on this device, extreme operands included?"""
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    try:
        g = torch.Generator().manual_seed(0)
        m, k, n = 32, 512, 64
        cases = [
            (torch.full((m, k), 127, dtype=torch.int8), torch.full((k, n), 127, dtype=torch.int8)),
            (torch.full((m, k), -127, dtype=torch.int8), torch.full((k, n), 127, dtype=torch.int8)),
            (torch.full((m, k), -127, dtype=torch.int8), torch.full((k, n), -127, dtype=torch.int8)),
            (torch.randint(-127, 128, (m, k), generator=g, dtype=torch.int8),
             torch.randint(-127, 128, (k, n), generator=g, dtype=torch.int8)),
        ]
        for a, b in cases:
            want = _float_mm(a, b)
            b_dev = b.t().contiguous().t().to(dev)
            got = torch._int_mm(a.to(dev), b_dev).cpu()
            if not torch.equal(got, want):
                return False
        return True
    except (RuntimeError, NotImplementedError):
        return False


SMALL_BATCH = 64  # rows below this use the small-batch choice of cpu_int_mm_wins


def _fastest(fns, repeats: int = 5) -> list[float]:
    """Best time of each function over `repeats` interleaved rounds (after a warm-up), so a
    busy machine slows both alike."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


@functools.lru_cache(maxsize=None)
def cpu_int_mm_wins() -> tuple[bool, bool]:
    """(small batches, large batches): is torch._int_mm faster than the exact float32 GEMM on
    this CPU? Timed once per process on an engine-sized product (well under a second)."""
    g = torch.Generator().manual_seed(0)
    w = torch.randint(-127, 128, (1024, 512), generator=g, dtype=torch.int8)
    wt, wf = w.t(), w.t().float().contiguous()
    wins = []
    for rows in (8, 128):
        x = torch.randint(-127, 128, (rows, 512), generator=g, dtype=torch.int8)
        t_int, t_float = _fastest([lambda: torch._int_mm(x, wt), lambda: (x.float() @ wf).to(torch.int32)])
        wins.append(t_int < t_float)
    return wins[0], wins[1]


class ExactMatmul:
    """x [B, K] int8 @ w.T for a fixed weight w [N, K] int8 -> int32 [B, N], exact.

    use_int_mm: None picks per device (CUDA: _int_mm if exact; CPU: the faster exact one
    for each batch-size class); True or False forces one backend (tests).
    """

    def __init__(self, w: torch.Tensor, device: torch.device, use_int_mm: bool | None = None):
        self.cuda = device.type == "cuda"
        exact = int_mm_is_exact(str(device)) if use_int_mm is None else use_int_mm
        if use_int_mm is None and exact and not self.cuda:
            self.int_small, self.int_large = cpu_int_mm_wins()
        else:
            self.int_small = self.int_large = exact
        self.use_int_mm = self.int_small or self.int_large
        # [K, N] as a transposed view: column-major, as cuBLAS wants
        self.wt = w.to(device).t() if self.use_int_mm else None
        dtype = torch.float32 if w.shape[1] <= _FLOAT32_EXACT_K else torch.float64
        self.wf = None if (self.int_small and self.int_large) else w.to(device=device, dtype=dtype).t().contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        if not (self.int_small if b < SMALL_BATCH else self.int_large):
            return (x.to(self.wf.dtype) @ self.wf).to(torch.int32)
        if self.cuda and b <= 16:  # cuBLAS int8 GEMM needs more than 16 rows
            pad = torch.zeros(17 - b, x.shape[1], dtype=x.dtype, device=x.device)
            return torch._int_mm(torch.cat([x, pad]), self.wt)[:b]
        return torch._int_mm(x, self.wt)
