#!/usr/bin/env python3
"""Same-card PyTorch baseline for FullSizeFluxTiming blocks: one FLUX.1 double block and one single block (FLUX.md
2.6-2.10: adaLN modulation, LayerNorm without affine, QK RMSNorm over the head dim, RoPE on adjacent pairs, joint
attention text first, GELU tanh MLP) at hidden 3072, 24 heads, MLP 12288, bf16, random weights.

Timed: double block then single block, forward, and forward + backward to the inputs (img, txt, vec; weights frozen,
as the Java side's input gradients), batch 1, at 256 text + 1024 image and 512 + 4096 tokens. One JSON line per run.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

D, H, DH, M = 3072, 24, 128, 12288
# bench/torch_cpu_compare.py imports the blocks with FLUX_BLOCKS_DEVICE=cpu and FLUX_BLOCKS_DTYPE=float32 (the CPU
# backend's compute type); main() below stays the CUDA bf16 timing.
dev = torch.device(os.environ.get("FLUX_BLOCKS_DEVICE", "cuda"))
dt = getattr(torch, os.environ.get("FLUX_BLOCKS_DTYPE", "bfloat16"))
gen = torch.Generator(device=dev).manual_seed(0)


def lin(o, i):
    b = 1 / math.sqrt(i)
    w = (torch.rand(o, i, device=dev, generator=gen) * 2 - 1) * b
    return w.to(dt), ((torch.rand(o, device=dev, generator=gen) * 2 - 1) * 0.02).to(dt)


def ln(x):
    return F.layer_norm(x.float(), (D,), eps=1e-6).to(dt)


def rms(x, scale):  # x [B, H, L, DH]
    return (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6)).to(dt) * scale


def rope(x, cos, sin):  # adjacent pairs (2m, 2m+1); cos, sin [L, DH/2], computed in f32
    xf = x.float().unflatten(-1, (DH // 2, 2))
    a, b = xf[..., 0], xf[..., 1]
    return torch.stack((cos * a - sin * b, sin * a + cos * b), -1).flatten(-2).to(dt)


def heads(t, n):  # [B, L, n*D] -> n tensors [B, H, L, DH]
    return [u.unflatten(-1, (H, DH)).transpose(1, 2) for u in t.chunk(n, -1)]


def rope_table(nt, side):
    ids = torch.zeros(nt + side * side, 3, device=dev)
    r = torch.arange(side, device=dev).float()
    ids[nt:, 1] = r.repeat_interleave(side)
    ids[nt:, 2] = r.repeat(side)
    ang = []
    for axis, d in enumerate((16, 56, 56)):
        w = 1.0 / 10000 ** (torch.arange(0, d, 2, device=dev).float() / d)
        ang.append(ids[:, axis:axis + 1] * w)
    a = torch.cat(ang, -1)  # [L, 64]
    return a.cos(), a.sin()


class Double:
    def __init__(self):
        self.p = {s: dict(mod=lin(6 * D, D), qkv=lin(3 * D, D), proj=lin(D, D), mlp1=lin(M, D), mlp2=lin(D, M),
                          nq=torch.ones(DH, device=dev, dtype=dt), nk=torch.ones(DH, device=dev, dtype=dt))
                  for s in ("img", "txt")}

    def __call__(self, img, txt, vec, cos, sin):
        nt, out, qkv, mods = txt.shape[1], {}, {}, {}
        for s, x in (("img", img), ("txt", txt)):
            p = self.p[s]
            mods[s] = F.linear(F.silu(vec), *p["mod"])[:, None].chunk(6, -1)
            sh1, sc1 = mods[s][0], mods[s][1]
            q, k, v = heads(F.linear((1 + sc1) * ln(x) + sh1, *p["qkv"]), 3)
            qkv[s] = (rms(q, p["nq"]), rms(k, p["nk"]), v)
        q, k, v = (torch.cat((qkv["txt"][i], qkv["img"][i]), 2) for i in range(3))
        a = F.scaled_dot_product_attention(rope(q, cos, sin), rope(k, cos, sin), v).transpose(1, 2).flatten(2)
        for s, x, part in (("img", img, a[:, nt:]), ("txt", txt, a[:, :nt])):
            p, (_, _, g1, sh2, sc2, g2) = self.p[s], mods[s]
            x = x + g1 * F.linear(part, *p["proj"])
            h = F.gelu(F.linear((1 + sc2) * ln(x) + sh2, *p["mlp1"]), approximate="tanh")
            out[s] = x + g2 * F.linear(h, *p["mlp2"])
        return out["img"], out["txt"]


class Single:
    def __init__(self):
        self.mod, self.l1, self.l2 = lin(3 * D, D), lin(3 * D + M, D), lin(D, D + M)
        self.nq = torch.ones(DH, device=dev, dtype=dt)
        self.nk = torch.ones(DH, device=dev, dtype=dt)

    def __call__(self, x, vec, cos, sin):
        sh, sc, g = F.linear(F.silu(vec), *self.mod)[:, None].chunk(3, -1)
        h = F.linear((1 + sc) * ln(x) + sh, *self.l1)
        q, k, v = heads(h[..., :3 * D], 3)
        a = F.scaled_dot_product_attention(rope(rms(q, self.nq), cos, sin), rope(rms(k, self.nk), cos, sin), v)
        o = F.linear(torch.cat((a.transpose(1, 2).flatten(2), F.gelu(h[..., 3 * D:], approximate="tanh")), -1), *self.l2)
        return x + g * o


def timed(fn, reps):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def main(reps):
    dbl, sgl = Double(), Single()
    for nt, side in ((256, 32), (512, 64)):
        cos, sin = rope_table(nt, side)
        img = torch.randn(1, side * side, D, device=dev, dtype=dt, requires_grad=True)
        txt = torch.randn(1, nt, D, device=dev, dtype=dt, requires_grad=True)
        vec = torch.randn(1, D, device=dev, dtype=dt, requires_grad=True)

        def forward():
            i, t = dbl(img, txt, vec, cos, sin)
            return sgl(torch.cat((t, i), 1), vec, cos, sin)

        def fwd_bwd():
            y = forward()
            torch.autograd.grad(y, (img, txt, vec), torch.ones_like(y) * 1e-3)

        for phase, fn, grad in (("torch_blocks_forward", forward, False), ("torch_blocks_fwd_bwd_inputs", fwd_bwd, True)):
            torch.cuda.reset_peak_memory_stats()
            with torch.set_grad_enabled(grad):
                ms = timed(fn, reps)
            print(json.dumps({"phase": phase, "device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                              "txt_tokens": nt, "img_tokens": side * side, "batch": 1, "reps": reps,
                              "ms": round(ms, 3), "peak_bytes": torch.cuda.max_memory_allocated()}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
