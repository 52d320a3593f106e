"""Exact int8 x int8 -> int32 matrix products, whatever the backend.

`torch._int_mm` is exact where the kernel accumulates in int32 without saturation. Some CPU
kernels without VNNI saturate int16 partial sums, so it is used only after a self-test with
worst-case operands on this device; otherwise a float GEMM is used, which is exact too as
long as every partial sum is an integer below 2^24 (float32) or 2^53 (float64).
"""
from __future__ import annotations

import functools

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


class ExactMatmul:
    """x [B, K] int8 @ w.T for a fixed weight w [N, K] int8 -> int32 [B, N], exact."""

    def __init__(self, w: torch.Tensor, device: torch.device, use_int_mm: bool | None = None):
        if use_int_mm is None:
            use_int_mm = int_mm_is_exact(str(device))
        self.use_int_mm = use_int_mm
        self.cuda = device.type == "cuda"
        if use_int_mm:
            self.wt = w.to(device).t()  # [K, N] as a transposed view: column-major, as cuBLAS wants
        else:
            dtype = torch.float32 if w.shape[1] <= _FLOAT32_EXACT_K else torch.float64
            self.wt = w.to(device=device, dtype=dtype).t().contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_int_mm:
            return (x.to(self.wt.dtype) @ self.wt).to(torch.int32)
        b = x.shape[0]
        if self.cuda and b <= 16:  # cuBLAS int8 GEMM needs more than 16 rows
            pad = torch.zeros(17 - b, x.shape[1], dtype=x.dtype, device=x.device)
            return torch._int_mm(torch.cat([x, pad]), self.wt)[:b]
        return torch._int_mm(x, self.wt)
