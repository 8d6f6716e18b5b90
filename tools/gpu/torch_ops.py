#!/usr/bin/env python3
"""Same-card PyTorch baseline for CudaTimingTest: SDPA forward and forward + backward at B1·H24·L4608·D128, and the bf16
linear 4608×3072 → 12288, each after a warm-up run. One JSON line per op (tools/gpu-check.sh collects them)."""
import json
import time

import torch
import torch.nn.functional as F

dev = torch.device("cuda")
name = torch.cuda.get_device_name(0)


def timed(fn, reps):
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps


def report(op, shape, flops, s):
    print(json.dumps({"op": op, "shape": shape, "device": name, "ms": round(s * 1e3, 4),
                      "tflops": round(flops / s / 1e12, 2), "torch": torch.__version__}), flush=True)


q, k, v = (torch.randn(1, 24, 4608, 128, device=dev, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
fwd = 4.0 * 24 * 4608 * 4608 * 128
o = F.scaled_dot_product_attention(q, k, v)
report("torch_sdpa_fwd_bf16", "B1 H24 L4608 D128", fwd, timed(lambda: F.scaled_dot_product_attention(q, k, v), 5))
g = torch.randn_like(o)
report("torch_sdpa_fwd_bwd_bf16", "B1 H24 L4608 D128", 3.5 * fwd,
       timed(lambda: torch.autograd.grad(F.scaled_dot_product_attention(q, k, v), (q, k, v), g), 3))
x = torch.randn(4608, 3072, device=dev, dtype=torch.bfloat16)
w = torch.randn(12288, 3072, device=dev, dtype=torch.bfloat16)
report("torch_linear_bf16", "4608x3072 * (12288x3072)^T", 2.0 * 4608 * 3072 * 12288, timed(lambda: x @ w.t(), 10))
