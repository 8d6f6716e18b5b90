#!/usr/bin/env python3
"""Our CpuGemm against numpy/OpenBLAS sgemm on this machine, in one run.

Starts the Java side (dev.fluxerase.bench.GemmRatio) once and keeps it warm, then alternates, round after round and shape
by shape, our f32 a·b, our x·Wᵀ with BF16 W and numpy's float32 a @ b, so that whatever else the machine is doing hits
both sides alike. Prints the best and the median (over rounds) GFLOP/s of each and the ratio ours/numpy taken within
each round (median over rounds, with the lowest and the highest).
Run through gemm_vs_openblas.sh, which builds the jar and sets up the environment.
"""
import argparse
import ctypes
import datetime
import glob
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

SHAPES = ["2048x2048x2048", "1280x3072x3072", "1280x3072x12288"]


def openblas_info():
    """Version, build configuration and the kernel (core type) the loaded OpenBLAS picked, via its own C API."""
    libs = []
    for pattern in ("numpy.libs/*openblas*.so*", "numpy/.libs/*openblas*.so*", "scipy_openblas*/lib/*openblas*.so*"):
        libs += glob.glob(os.path.join(os.path.dirname(os.path.dirname(np.__file__)), pattern))
    for path in libs:
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas_", "openblas_", ""):
            for suffix in ("64_", ""):
                try:
                    config = getattr(lib, prefix + "get_config" + suffix)
                    core = getattr(lib, prefix + "get_corename" + suffix)
                    threads = getattr(lib, prefix + "get_num_threads" + suffix)
                except AttributeError:
                    continue
                config.restype = ctypes.c_char_p
                core.restype = ctypes.c_char_p
                return config().decode(), core().decode(), threads()
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return str(blas.get("openblas configuration", blas)), "unknown", -1


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def numpy_times(a, b, c, reps):
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        t.append(time.perf_counter() - t0)
    return min(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jar", required=True)
    ap.add_argument("--java", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3, help="GEMMs per measurement; the best of them counts")
    ap.add_argument("--shapes", nargs="*", default=SHAPES)
    ap.add_argument("--jvm-opts", action="append", default=None,
                    help="extra JVM options for our side; give it several times to compare JVM settings in the same run")
    args = ap.parse_args()
    variants = args.jvm_opts or [""]

    config, core, threads = openblas_info()
    java_version = subprocess.run([args.java, "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"cpu: {cpu_model()}, {os.cpu_count()} logical CPUs; load average at start {os.getloadavg()}")
    print(f"java: {java_version}")
    print(f"numpy {np.__version__}; OpenBLAS: {config}; kernel (core type): {core}; threads: {threads}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')} "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    print(f"rounds {args.rounds}, best of {args.reps} GEMMs per measurement", flush=True)

    jvms = []
    for opts in variants:
        jvm = subprocess.Popen([args.java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                                "-Xmx8g", *opts.split(), "-cp", args.jar, "dev.fluxerase.bench.GemmRatio"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        print(f"java side [{opts or 'default JVM options'}]:", jvm.stdout.readline().strip(), flush=True)
        jvms.append(jvm)

    def ours(v, shape, kind, reps):
        jvm = jvms[v]
        jvm.stdin.write(f"{shape} {kind} {reps}\n")
        jvm.stdin.flush()
        reply = jvm.stdout.readline().split()
        if len(reply) != 2:
            sys.exit(f"java side failed on {shape} {kind}: {' '.join(reply)}")
        return float(reply[0])

    rng = np.random.default_rng(42)
    arrays = {}
    for shape in args.shapes:
        m, k, n = map(int, shape.split("x"))
        arrays[shape] = (rng.uniform(-1, 1, (m, k)).astype(np.float32), rng.uniform(-1, 1, (k, n)).astype(np.float32),
                         np.empty((m, n), np.float32))
        # Warm-up: JIT compilation on our side, thread start-up and page faults on both.
        for v in range(len(jvms)):
            ours(v, shape, "f32", 2)
            ours(v, shape, "bf16-wt", 2)
        numpy_times(*arrays[shape], 2)

    sides = [(v, kind) for v in range(len(jvms)) for kind in ("f32", "bf16-wt")]
    rates = {(s, side): [] for s in args.shapes for side in sides + ["numpy"]}
    for r in range(args.rounds):
        for shape in args.shapes:
            m, k, n = map(int, shape.split("x"))
            flops = 2.0 * m * n * k
            for side in sides:
                rates[(shape, side)].append(flops / ours(side[0], shape, side[1], args.reps) / 1e9)
                if side[1] == "f32" and side[0] == 0:
                    rates[(shape, "numpy")].append(flops / numpy_times(*arrays[shape], args.reps) / 1e9)
        print(f"round {r + 1}/{args.rounds} (ours f32/bf16-W per JVM, numpy): " + ", ".join(
            f"{s} " + "/".join(f"{rates[(s, side)][-1]:.0f}" for side in sides + ["numpy"]) for s in args.shapes),
              flush=True)
    for jvm in jvms:
        jvm.stdin.close()
        jvm.wait()

    print(f"load average at end {os.getloadavg()}")
    for v, opts in enumerate(variants):
        print()
        print(f"JVM options: {opts or '(default)'}. GFLOP/s: best over rounds (median over rounds). Ratio ours/numpy: "
              "median over rounds of the ratio within a round [lowest–highest]. Shape M×K×N; bf16-W is x·Wᵀ with W [N,K] "
              "BF16.")
        print(f"| {'shape':<16} | {'ours f32':>11} | {'ours bf16-W':>11} | {'numpy f32':>11} | {'f32 / numpy':>18} "
              f"| {'bf16-W / numpy':>18} |")
        print("|" + "|".join("-" * w for w in (18, 13, 13, 13, 20, 20)) + "|")
        for shape in args.shapes:
            series = {"f32": rates[(shape, (v, "f32"))], "bf16": rates[(shape, (v, "bf16-wt"))],
                      "numpy": rates[(shape, "numpy")]}

            def cell(w):
                return f"{max(series[w]):.0f} ({statistics.median(series[w]):.0f})"

            def ratio(w):
                r = [x / y for x, y in zip(series[w], series["numpy"])]
                return f"{statistics.median(r):.2f} [{min(r):.2f}–{max(r):.2f}]"

            print(f"| {shape:<16} | {cell('f32'):>11} | {cell('bf16'):>11} | {cell('numpy'):>11} | {ratio('f32'):>18} "
                  f"| {ratio('bf16'):>18} |")


if __name__ == "__main__":
    main()
