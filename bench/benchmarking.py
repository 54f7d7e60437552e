"""Measurement helpers for `make bench`: the machine's own matmul ceiling and wall-clock timing.

Speed targets are ratios against references measured in the same run (the matmul ceiling, a plain
baseline loop), so that the numbers mean the same on a laptop, this 2-core box and a GPU node.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def matmul_tflops(dtype: torch.dtype = torch.bfloat16, size: int = 2048, repeats: int = 10,
                  device: str = "cpu") -> float:
    """Sustained dense matmul throughput (TFLOP/s) for ``dtype`` on ``device``: the roofline we compare to."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    seconds = best_of(lambda: torch.mm(a, b), repeats=repeats, device=device)
    return 2 * size**3 / seconds / 1e12


def best_of(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, device: str = "cpu") -> float:
    """Fastest wall-clock seconds of ``repeats`` calls after ``warmup`` calls (CUDA-synchronised)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def conv_flops(model: torch.nn.Module, example: torch.Tensor) -> float:
    """Forward FLOPs (2 x multiply-adds) of the convolution and linear layers for one ``example`` batch."""
    total = 0.0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            # every output position multiplies the whole weight tensor once
            total += 2.0 * output.shape[0] * output.shape[2] * output.shape[3] * module.weight.numel()
        elif isinstance(module, torch.nn.ConvTranspose2d):
            # every input position scatters through the whole weight tensor once
            x = inputs[0]
            total += 2.0 * x.shape[0] * x.shape[2] * x.shape[3] * module.weight.numel()
        elif isinstance(module, torch.nn.Linear):
            total += 2.0 * output.numel() * module.in_features

    handles = [m.register_forward_hook(count) for m in model.modules()
               if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d | torch.nn.Linear)]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return total
