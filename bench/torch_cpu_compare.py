#!/usr/bin/env python3
"""Our FLUX transformer on the CPU backend against PyTorch on the CPU, in one run (issue 11 item 5; bench/README.md).

The model: FLUX.1-dev's widths (hidden 3072, 24 heads x 128, MLP 12288), one double and one single block, the
embedders and the final layer, batch 1, 256 text + 256 image tokens, f32 compute. Our side is FluxModelBench's dev1
config in one warm JVM per vector-width setting (dev.fluxerase.bench.FluxTorchRatio); PyTorch's side reuses the blocks of
tools/gpu/flux_blocks_torch.py on the CPU in float32 and adds the embedders and the final layer, so both compute the same
model. Weights are random on both sides (not the same values: the time does not depend on them). Round after round the
sides alternate (ours, torch, ours, torch ...) so that whatever else the machine does hits both alike; each measurement
is one call (seconds each, so one is long enough). Prints each round and the median over rounds of torch time / ours
within a round (ours faster = above 1).
Run through torch_cpu_compare.sh, which builds the jar and picks Debian's python3 with python3-torch.
"""
import argparse
import ctypes
import datetime
import math
import os
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault("FLUX_BLOCKS_DEVICE", "cpu")
os.environ.setdefault("FLUX_BLOCKS_DTYPE", "float32")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "gpu"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

if not hasattr(F, "scaled_dot_product_attention"):
    # Debian bookworm's torch 1.13 predates F.scaled_dot_product_attention (2.0); this is its math path.
    def _sdpa(q, k, v):
        return torch.softmax((q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1]), -1) @ v

    F.scaled_dot_product_attention = _sdpa

import flux_blocks_torch as fb  # noqa: E402

fb.gen = torch.Generator(device=fb.dev).manual_seed(0)
D = fb.D


def timestep_embedding(t, dim=256, max_period=10000, factor=1000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = factor * t[:, None].float() * freqs[None]
    return torch.cat((torch.cos(args), torch.sin(args)), -1)


class Model:
    """FLUX's forward (BFL flux/model.py) with depth 1 + 1: img_in, txt_in, time/guidance/vector MLPs, blocks, final."""

    def __init__(self):
        self.img_in, self.txt_in = fb.lin(D, 64), fb.lin(D, 4096)
        self.time_in, self.guid_in = (fb.lin(D, 256), fb.lin(D, D)), (fb.lin(D, 256), fb.lin(D, D))
        self.vec_in = (fb.lin(D, 768), fb.lin(D, D))
        self.dbl, self.sgl = fb.Double(), fb.Single()
        self.final_mod, self.final = fb.lin(2 * D, D), fb.lin(64, D)

    def params(self):
        out = [*self.img_in, *self.txt_in, *self.final_mod, *self.final]
        for a, b in (self.time_in, self.guid_in, self.vec_in):
            out += [*a, *b]
        for p in self.dbl.p.values():
            for v in p.values():
                out += list(v) if isinstance(v, tuple) else [v]
        out += [*self.sgl.mod, *self.sgl.l1, *self.sgl.l2, self.sgl.nq, self.sgl.nk]
        return out

    @staticmethod
    def mlp(x, w):
        return F.linear(F.silu(F.linear(x, *w[0])), *w[1])

    def __call__(self, img, txt, y, t, g, cos, sin):
        img, txt = F.linear(img, *self.img_in), F.linear(txt, *self.txt_in)
        vec = (self.mlp(timestep_embedding(t), self.time_in) + self.mlp(timestep_embedding(g), self.guid_in)
               + self.mlp(y, self.vec_in))
        img, txt = self.dbl(img, txt, vec, cos, sin)
        x = self.sgl(torch.cat((txt, img), 1), vec, cos, sin)[:, txt.shape[1]:]
        shift, scale = F.linear(F.silu(vec), *self.final_mod)[:, None].chunk(2, -1)
        return F.linear((1 + scale) * fb.ln(x) + shift, *self.final)


def cpu_info():
    model, flags = "?", ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line
    return model, "avx512f" in flags.split()


def blas_core():
    """The BLAS library this process loaded (Debian's torch calls the system libblas) and, for OpenBLAS, the kernel it
    chose for this CPU: OpenBLAS 0.3.21 takes its AVX2 kernel on CPUs it does not know (Zen 5), whatever they have."""
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1]})
    for lib in libs:
        try:
            fn = ctypes.CDLL(lib).openblas_get_corename
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_char_p
        return f"{lib} (OpenBLAS, kernel {fn().decode()})"
    return ", ".join(libs) or "none loaded"


def torch_kernels():
    """Which instruction sets PyTorch's CPU kernels may use: ATen's own, the BLAS's (linear layers), oneDNN's
    (convolutions; ONEDNN_MAX_CPU_ISA caps it, else it takes the best the CPU has)."""
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))  # loads the BLAS
    aten = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "the CPU's best"
    return f"ATen {aten.group(1) if aten else '?'}, BLAS {blas_core()}, oneDNN up to {onednn}"


def settled(call, *args, settle):
    """call(*args) after settle seconds of nothing on our part."""
    time.sleep(settle)
    return call(*args)


def print_header(args):
    """The run's date, machine (load included), Java and torch with the kernels it picked, and the pauses: first in
    every same-run comparison's output. args: what add_run_arguments parsed."""
    model, avx512 = cpu_info()
    java_version = subprocess.run([args.java, "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    print(f"date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"cpu: {model}, {os.cpu_count()} logical CPUs, avx512f {'yes' if avx512 else 'no'}; "
          f"load average at start {os.getloadavg()}")
    print(f"java: {java_version}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"torch kernels: {torch_kernels()}")
    print(f"settle: {args.settle} s before each measurement; {args.warmup} warm-up calls of each op on each side",
          flush=True)


def add_run_arguments(ap):
    """The options both same-run comparisons take besides their own: Java, rounds, threads, Java sides, pauses."""
    ap.add_argument("--java", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--jvm-opts", action="append", default=None,
                    help="extra JVM options for our side; give it several times for one Java side each, same rounds")
    ap.add_argument("--settle", type=float, default=0.5,
                    help="seconds to wait before each measurement, so that the side measured before has gone idle: "
                    "OpenBLAS's worker threads spin on for about 0.13 s after a call returns (measured 2026-12-04), "
                    "taking one of two cores from whatever runs next")
    ap.add_argument("--warmup", type=int, default=3, help="unmeasured calls of each op on each side first (our JIT "
                    "had not finished after one: a first measured T5 round took 1.47 s against 0.29-0.38 s after)")


class JavaSides:
    """One warm JVM per --jvm-opts variant running main_class, which answers each command line ('forward', 't5 256')
    with one line 'seconds sink'."""

    def __init__(self, java, variants, classpath, main_class, *main_args):
        self.variants = variants
        self.jvms = []
        for opts in variants:
            jvm = subprocess.Popen([java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                                    "-Xmx8g", *opts.split(), "-cp", classpath, main_class, *main_args],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            print(f"java side [{opts or 'default JVM options'}]:", jvm.stdout.readline().strip(), flush=True)
            self.jvms.append(jvm)

    def run(self, v, op):
        """Seconds that Java side v took for op."""
        jvm = self.jvms[v]
        jvm.stdin.write(op + "\n")
        jvm.stdin.flush()
        reply = jvm.stdout.readline().split()
        if len(reply) != 2:
            sys.exit(f"java side [{self.variants[v]}] failed on {op}: {' '.join(reply)}")
        return float(reply[0])

    def close(self):
        for jvm in self.jvms:
            jvm.stdin.close()
            jvm.wait()


def print_ratios(variants, ops, ours, torch_times):
    """Per Java side, a table of the medians and of torch / ours taken within each (ours, torch) pair; ours(op, v) and
    torch_times(op, v) are the seconds of those pairs in round order."""
    print(f"load average at end {os.getloadavg()}")
    for v, opts in enumerate(variants):
        print(f"\nour JVM options: {opts or '(default)'}")
        print("| op | ours s, median | torch s, median | torch / ours, median [lowest-highest] |")
        print("|---|---|---|---|")
        for op in ops:
            o, t = ours(op, v), torch_times(op, v)
            ratio = [b / a for a, b in zip(o, t)]
            print(f"| {op} | {statistics.median(o):.2f} | {statistics.median(t):.2f} | "
                  f"{statistics.median(ratio):.2f} [{min(ratio):.2f}-{max(ratio):.2f}] |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jar", required=True)
    add_run_arguments(ap)
    ap.add_argument("--ops", nargs="*", default=["forward", "forwardBackward"])
    args = ap.parse_args()
    variants = args.jvm_opts or [""]
    torch.set_num_threads(args.threads)
    print_header(args)

    java = JavaSides(args.java, variants, args.jar, "dev.fluxerase.bench.FluxTorchRatio", "dev1")
    ours = java.run

    m = Model()
    params = m.params()
    for p in params:
        p.requires_grad_(True)
    nt, side = 256, 16
    cos, sin = fb.rope_table(nt, side)
    inputs = [torch.rand(1, side * side, 64) * 3.4 - 1.7, torch.rand(1, nt, 4096) * 3.4 - 1.7,
              torch.rand(1, 768) * 3.4 - 1.7]
    for x in inputs:
        x.requires_grad_(True)
    t, g = torch.tensor([0.7]), torch.tensor([3.5])
    grad_out = torch.rand(1, side * side, 64) * 3.4 - 1.7

    def torch_op(op):
        start = time.perf_counter()
        if op == "forward":
            with torch.no_grad():
                m(*inputs, t, g, cos, sin)
        else:  # every weight and input gradient, as our forwardBackward
            torch.autograd.grad(m(*inputs, t, g, cos, sin), params + inputs, grad_out)
        return time.perf_counter() - start

    for op in args.ops:  # warm-up: JIT on our side, allocator and page faults on both
        for _ in range(args.warmup):
            for v in range(len(variants)):
                ours(v, op)
            torch_op(op)

    times = {(op, s): [] for op in args.ops for s in ["torch"] + list(range(len(variants)))}
    for r in range(args.rounds):
        for op in args.ops:
            line = []
            for v in range(len(variants)):
                times[(op, v)].append(settled(ours, v, op, settle=args.settle))
                times[(op, "torch")].append(settled(torch_op, op, settle=args.settle))
                line.append(f"ours[{v}] {times[(op, v)][-1]:.2f} s, torch {times[(op, 'torch')][-1]:.2f} s")
            print(f"round {r + 1} {op}: {'; '.join(line)}; load {os.getloadavg()[0]:.2f}", flush=True)

    # torch's k-th run follows our k-th run of the same variant: the ratio is taken within that pair
    print_ratios(variants, args.ops, lambda op, v: times[(op, v)],
                 lambda op, v: times[(op, "torch")][v::len(variants)])
    java.close()


if __name__ == "__main__":
    main()
