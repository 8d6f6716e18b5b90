#!/usr/bin/env bash
# The one script to run on the GPU machine, from the repository root:
#   bash tools/gpu-check.sh [runtime/flux-erase-runtime.tar.gz]
# It unpacks the runtime that tools/build-gpu-runtime.sh made, reports the GPU and the CUDA libraries (nvidia-smi and
# CudaRuntimeInfo), runs the GPU tests with the bundled Java (the whole tiny FLUX model against its goldens included),
# one double + one single full-size block timed against tools/gpu/flux_blocks_torch.py, the full-size FLUX.1-dev
# forward and LoRA forward+backward with random bf16 weights (time and peak memory), then the op timings, and, when
# PyTorch is there, the same sizes in PyTorch as the same-card baseline. Every step's timeout is cut to what is left
# of an 8-minute budget. Logs and JSON go to $OUT/gpu-check (or ./gpu-check-out), summed up in summary.json.
# Exit status: that of the GPU tests, or 2 when they ran but were skipped (no usable GPU found).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tarball="${1:-$root/runtime/flux-erase-runtime.tar.gz}"
out="${OUT:-$root/gpu-check-out}/gpu-check"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work"
rt="$work/flux-erase-runtime"
java="$rt/java/bin/java"
jflags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC)
console="$(ls "$rt"/lib/junit-platform-console-standalone-*.jar)"
cp="$rt/lib/flux-erase.jar:$rt/test-classes:$root/src/test/resources"
t0=$(date +%s)

{ nvidia-smi || echo "nvidia-smi not available"; } > "$out/nvidia-smi.txt" 2>&1
"$java" "${jflags[@]}" -cp "$cp" dev.fluxerase.cuda.CudaRuntimeInfo > "$out/cuda-report.txt" 2>&1
cat "$out/nvidia-smi.txt" "$out/cuda-report.txt"

budget=480
limit() { # the smaller of $1 seconds and what is left of the budget (at least 10)
  local left=$(( budget - ($(date +%s) - t0) ))
  (( left < 10 )) && left=10
  echo $(( $1 < left ? $1 : left ))
}

run_tests() { # $1 = name, $2 = timeout, rest = classes
  local name="$1" secs="$2"; shift 2
  local sel=()
  for c in "$@"; do sel+=(--select-class "dev.fluxerase.cuda.$c"); done
  timeout "$(limit "$secs")" "$java" "${jflags[@]}" -jar "$console" execute --class-path "$cp" "${sel[@]}" \
    --reports-dir "$out/junit-$name" --details=tree --disable-banner > "$out/$name.log" 2>&1
}

flux_timing() { # $1 = model|blocks, $2 = timeout: FullSizeFluxTiming's JSON lines into flux-$1.jsonl
  timeout "$(limit "$2")" "$java" "${jflags[@]}" -cp "$cp" dev.fluxerase.cuda.FullSizeFluxTiming "$1" \
    > "$out/flux-$1.log" 2>&1
  local rc=$?
  grep -o 'FLUX_TIMING {.*}' "$out/flux-$1.log" | sed 's/^FLUX_TIMING //' > "$out/flux-$1.jsonl"
  cat "$out/flux-$1.jsonl"
  return $rc
}

have_torch=0
python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null && have_torch=1

run_tests tests 240 CudaDriverTest CudaBackendParityTest CudaAttentionTest CudaFluxGoldenTest
tests_rc=$?
tail -n 60 "$out/tests.log"
grep 'CudaFluxGoldenTest ' "$out/tests.log" > "$out/flux-golden.txt"
flux_timing blocks 90
blocks_rc=$?
if (( have_torch )); then
  timeout "$(limit 90)" python3 "$root/tools/gpu/flux_blocks_torch.py" > "$out/torch-blocks.jsonl" \
    2> "$out/torch-blocks.log"
  cat "$out/torch-blocks.jsonl"
fi
flux_timing model 150
model_rc=$?
run_tests timing 90 CudaTimingTest
timing_rc=$?
grep -o 'CUDA_TIMING {.*}' "$out/timing.log" | sed 's/^CUDA_TIMING //' > "$out/timings.jsonl"
cat "$out/timings.jsonl"

if (( have_torch )); then
  timeout "$(limit 60)" python3 - > "$out/torch-baseline.jsonl" 2> "$out/torch-baseline.log" <<'PY'
import json, time, torch
import torch.nn.functional as F
dev = torch.device("cuda")
name = torch.cuda.get_device_name(0)
def timed(fn, reps):
    fn(); torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps): fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps
def report(op, shape, flops, s):
    print(json.dumps({"op": op, "shape": shape, "device": name, "ms": round(s * 1e3, 4), "tflops": round(flops / s / 1e12, 2),
                      "torch": torch.__version__}))
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
PY
  cat "$out/torch-baseline.jsonl"
else
  echo "PyTorch with CUDA not importable: no same-card baseline" > "$out/torch-baseline.log"
fi

python3 - "$out" "$tests_rc" "$timing_rc" "$(( $(date +%s) - t0 ))" "$blocks_rc" "$model_rc" <<'PY'
import glob, json, os, sys
import xml.etree.ElementTree as ET
out, tests_rc, timing_rc, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
blocks_rc, model_rc = int(sys.argv[5]), int(sys.argv[6])
counts = {}
for name in ("tests", "timing"):
    c = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for f in glob.glob(os.path.join(out, "junit-" + name, "*.xml")):
        for s in ET.parse(f).getroot().iter("testsuite"):
            for key in c:
                c[key] += int(s.get(key, 0))
    counts[name] = c
def lines(f):
    p = os.path.join(out, f)
    return [json.loads(l) for l in open(p)] if os.path.exists(p) else []
blocks, torch_blocks = lines("flux-blocks.jsonl"), lines("torch-blocks.jsonl")
ratios = []  # Java time / PyTorch time for the same phase and token counts on this card (target <= 1.2 for fwd+bwd)
for j in blocks:
    for t in torch_blocks:
        if t["phase"] == "torch_" + j["phase"] and (t["txt_tokens"], t["img_tokens"]) == (j["txt_tokens"], j["img_tokens"]):
            ratios.append({"phase": j["phase"], "txt_tokens": j["txt_tokens"], "img_tokens": j["img_tokens"],
                           "java_ms": j["ms"], "torch_ms": t["ms"], "ratio": round(j["ms"] / t["ms"], 3)})
summary = {"tests_exit": tests_rc, "timing_exit": timing_rc, "blocks_exit": blocks_rc, "model_exit": model_rc,
           "seconds": secs, "junit": counts, "flux_model": lines("flux-model.jsonl"), "flux_blocks": blocks,
           "torch_blocks": torch_blocks, "block_ratios": ratios,
           "timings": lines("timings.jsonl"), "torch_baseline": lines("torch-baseline.jsonl")}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps(summary["junit"]))
print(json.dumps({"block_ratios": ratios, "flux_model": summary["flux_model"]}, indent=1))
if tests_rc == 0 and counts["tests"]["skipped"] > 0:
    print("gpu-check: %d GPU tests were skipped (no usable GPU?): see %s/tests.log" % (counts["tests"]["skipped"], out))
    sys.exit(2)
sys.exit(tests_rc)
PY
exit $?
