#!/usr/bin/env python3
"""T5 encode and VAE decode on our CPU backend against PyTorch on the CPU, in one run (issue 11 item 5; bench/README.md).

The models: the mid-size T5 encoder of T5EncoderTiming (d_model 1024, 8 layers, 16 heads x 64, gated-GELU d_ff 2816,
relative position buckets 32 / distance 128), one prompt of N tokens; FLUX.1's VAE decoder (ch 128, mult [1, 2, 4, 4], 3
res blocks per level, z 16, one mid attention), one latent of S x S. f32 compute on both sides (our T5 reads BF16
weights, widened in its GEMM), random weights (not the same values: the time does not depend on them). Our side is
dev.fluxerase.vae.CodecTorchSide in one warm JVM per --jvm-opts; the sides alternate round after round, each measurement
one call, and the ratio torch / ours is taken within a round (ours faster = above 1). Run through torch_cpu_codecs.sh.
"""
import argparse
import math
import os
import time

import torch
import torch.nn.functional as F

from torch_cpu_compare import JavaSides, add_run_arguments, print_header, print_ratios, settled

gen = torch.Generator().manual_seed(0)


def w(*shape, fan_in):
    return torch.randn(*shape, generator=gen) / math.sqrt(fan_in)


class T5:
    """HF T5EncoderModel's forward (RMS norms, unscaled scores plus a shared relative position bias, gated GELU)."""

    def __init__(self, vocab=1000, d=1024, heads=16, dkv=64, ff=2816, layers=8, buckets=32, max_distance=128):
        self.heads, self.dkv, self.buckets, self.max_distance = heads, dkv, buckets, max_distance
        inner = heads * dkv
        self.embed = torch.randn(vocab, d, generator=gen)
        self.bias = torch.randn(buckets, heads, generator=gen) * 0.5
        self.layers = [dict(n1=1 + 0.1 * torch.randn(d, generator=gen), q=w(inner, d, fan_in=d * dkv),
                            k=w(inner, d, fan_in=d), v=w(inner, d, fan_in=d), o=w(d, inner, fan_in=inner),
                            n2=1 + 0.1 * torch.randn(d, generator=gen), wi0=w(ff, d, fan_in=d), wi1=w(ff, d, fan_in=d),
                            wo=w(d, ff, fan_in=ff)) for _ in range(layers)]
        self.final = 1 + 0.1 * torch.randn(d, generator=gen)

    @staticmethod
    def norm(x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * weight

    def position_bias(self, n):
        rel = torch.arange(n)[None, :] - torch.arange(n)[:, None]
        half = self.buckets // 2
        bucket = (rel > 0).long() * half
        rel = rel.abs()
        exact = half // 2
        large = exact + (torch.log(rel.float().clamp(min=1) / exact) / math.log(self.max_distance / exact)
                         * (half - exact)).long()
        bucket += torch.where(rel < exact, rel, large.clamp(max=half - 1))
        return self.bias[bucket].permute(2, 0, 1)[None]

    def __call__(self, ids):
        x = self.embed[ids]
        b, n, _ = x.shape
        bias = self.position_bias(n)
        split = lambda t: t.view(b, n, self.heads, self.dkv).transpose(1, 2)
        for p in self.layers:
            h = self.norm(x, p["n1"])
            q, k, v = split(F.linear(h, p["q"])), split(F.linear(h, p["k"])), split(F.linear(h, p["v"]))
            a = torch.softmax(q @ k.transpose(-2, -1) + bias, -1) @ v
            x = x + F.linear(a.transpose(1, 2).reshape(b, n, -1), p["o"])
            h = self.norm(x, p["n2"])
            x = x + F.linear(F.gelu(F.linear(h, p["wi0"]), approximate="tanh") * F.linear(h, p["wi1"]), p["wo"])
        return self.norm(x, self.final)


def conv(cin, cout, k):
    return w(cout, cin, k, k, fan_in=cin * k * k), torch.randn(cout, generator=gen) * 0.05


def gnorm(c):
    return 1 + 0.1 * torch.randn(c, generator=gen), torch.randn(c, generator=gen) * 0.05


class VaeDecoder:
    """BFL's flux/modules/autoencoder.py Decoder (= diffusers' Decoder without quant convs)."""

    def __init__(self, ch=128, mult=(1, 2, 4, 4), res_blocks=2, z=16, out=3):
        self.params = []
        c = ch * mult[-1]
        self.conv_in = self.keep(conv(z, c, 3))
        self.mid = [self.resnet(c, c), self.attn(c), self.resnet(c, c)]
        self.up = []
        for i in reversed(range(len(mult))):
            co = ch * mult[i]
            blocks = []
            for _ in range(res_blocks + 1):
                blocks.append(self.resnet(c, co))
                c = co
            self.up.append((blocks, self.keep(conv(c, c, 3)) if i != 0 else None))
        self.norm_out, self.conv_out = self.keep(gnorm(c)), self.keep(conv(c, out, 3))

    def keep(self, ps):
        self.params += ps
        return ps

    def resnet(self, cin, cout):
        return dict(n1=self.keep(gnorm(cin)), c1=self.keep(conv(cin, cout, 3)), n2=self.keep(gnorm(cout)),
                    c2=self.keep(conv(cout, cout, 3)), skip=self.keep(conv(cin, cout, 1)) if cin != cout else None)

    def attn(self, c):
        return dict(n=self.keep(gnorm(c)), q=self.keep(conv(c, c, 1)), k=self.keep(conv(c, c, 1)),
                    v=self.keep(conv(c, c, 1)), o=self.keep(conv(c, c, 1)))

    @staticmethod
    def gn(x, p):
        return F.group_norm(x, 32, *p, eps=1e-6)

    def run_resnet(self, x, p):
        h = F.conv2d(F.silu(self.gn(x, p["n1"])), *p["c1"], padding=1)
        h = F.conv2d(F.silu(self.gn(h, p["n2"])), *p["c2"], padding=1)
        return (F.conv2d(x, *p["skip"]) if p["skip"] else x) + h

    def run_attn(self, x, p):
        b, c, hh, ww = x.shape
        h = self.gn(x, p["n"])
        q, k, v = (F.conv2d(h, *p[n]).flatten(2).transpose(1, 2) for n in "qkv")
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), -1) @ v
        return x + F.conv2d(a.transpose(1, 2).reshape(b, c, hh, ww), *p["o"])

    def __call__(self, z):
        x = F.conv2d(z / 0.3611 + 0.1159, *self.conv_in, padding=1)
        x = self.run_attn(self.run_resnet(x, self.mid[0]), self.mid[1])
        x = self.run_resnet(x, self.mid[2])
        for blocks, upsample in self.up:
            for p in blocks:
                x = self.run_resnet(x, p)
            if upsample:
                x = F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest"), *upsample, padding=1)
        return F.conv2d(F.silu(self.gn(x, self.norm_out)), *self.conv_out, padding=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--classpath", required=True)
    add_run_arguments(ap)
    ap.add_argument("--ops", nargs="*", default=["t5 256", "t5 512", "vae 32"],
                    help="'t5 TOKENS' or 'vae LATENT_SIDE' (32 = a 256x256 image)")
    args = ap.parse_args()
    variants = args.jvm_opts or [""]
    torch.set_num_threads(args.threads)
    print_header(args)
    java = JavaSides(args.java, variants, args.classpath, "dev.fluxerase.vae.CodecTorchSide")
    ours = java.run
    t5, vae = T5(), VaeDecoder()
    print(f"torch VAE decoder: {sum(p.numel() for p in vae.params)} parameters", flush=True)

    def torch_op(op):
        kind, n = op.split()
        n = int(n)
        x = torch.randint(0, 1000, (1, n), generator=gen) if kind == "t5" else torch.randn(1, 16, n, n, generator=gen)
        start = time.perf_counter()
        with torch.no_grad():
            (t5 if kind == "t5" else vae)(x)
        return time.perf_counter() - start

    for op in args.ops:  # warm-up: JIT and weight packing on our side, allocator and page faults on both
        for _ in range(args.warmup):
            for v in range(len(variants)):
                ours(v, op)
            torch_op(op)
    # one (ours, torch) pair per op, Java side and round; the pair's order alternates from round to round
    times = {(op, v, s): [] for op in args.ops for v in range(len(variants)) for s in ("ours", "torch")}
    for r in range(args.rounds):
        for op in args.ops:
            line = []
            for v in range(len(variants)):
                if r % 2 == 0:
                    o, t = settled(ours, v, op, settle=args.settle), settled(torch_op, op, settle=args.settle)
                else:
                    t, o = settled(torch_op, op, settle=args.settle), settled(ours, v, op, settle=args.settle)
                times[(op, v, "ours")].append(o)
                times[(op, v, "torch")].append(t)
                line.append(f"ours[{v}] {o:.2f} s, torch {t:.2f} s")
            print(f"round {r + 1} {op}: {'; '.join(line)}; load {os.getloadavg()[0]:.2f}", flush=True)
    print_ratios(variants, args.ops, lambda op, v: times[(op, v, "ours")], lambda op, v: times[(op, v, "torch")])
    java.close()


if __name__ == "__main__":
    main()
