#!/usr/bin/env bash
# The one script to run on the GPU machine, from the repository root:
#   bash tools/gpu-check.sh [--keep-going] [--stand-in] [runtime/flux-erase-runtime.tar.gz]
# It unpacks the runtime that tools/build-gpu-runtime.sh made, reports the GPU and where the CUDA libraries were found
# (nvidia-smi, python3's nvidia wheels, CudaRuntimeInfo), runs the GPU tests with the bundled Java (the whole tiny FLUX
# model against its goldens included), one double + one single full-size block timed against
# tools/gpu/flux_blocks_torch.py, the full-size FLUX.1-dev forward and LoRA forward+backward with random bf16 weights
# (time and peak memory), the erase trainer and the generator at that size (FullSizeEraseTiming: one erasure and
# one preservation step, timed with peak memory, and a 4-step generate of 1024 image tokens, timed), then the op timings and, when PyTorch is there, the same ops in PyTorch (tools/gpu/torch_ops.py).
#
# Every step runs under `timeout`, cut to what is left of a 7-minute budget, so that with the device call's 540 s limit
# there is time left to pack the results. The device tool brings back at most 8 files from $OUT, so every log and JSON
# file is written to a work folder and $OUT (or ./gpu-check-out) receives only summary.json, tests.log and
# gpu-check.tar.gz (the work folder). summary.json and the archive are rewritten after every step (temp file + rename):
# a run that is cut short still leaves the steps that finished.
#
# Without the CUDA driver or cuBLASLt every GPU test would skip, so the run stops after the report with a line saying
# which is missing; --keep-going runs every step anyway (to try the script's plumbing on a machine without a GPU).
# --stand-in runs it all on a machine without a GPU: it builds the stand-in CUDA libraries (tools/cuda-standin, with
# the system C compiler) and points FLUX_ERASE_CUDA_LIB_DIR at them, so every step runs its host side with every
# launch checked and no kernel run (docs/cuda.md); the full-size model and erase steps are skipped (their weights
# alone would be 24 GB of host memory). About 1.5 minutes on 2 shared cores; the timings it reports are the host's, not a GPU's.
# Exit status: 2 when it stopped early or the GPU tests were skipped, else that of the GPU tests.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keep_going=0
stand_in=0
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --keep-going) keep_going=1 ;;
    --stand-in) stand_in=1 ;;
    *) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
tarball="${1:-$root/runtime/flux-erase-runtime.tar.gz}"
out="${OUT:-$root/gpu-check-out}"
budget=420
t0=$(date +%s)
mkdir -p "$out"
work="$(mktemp -d)"
res="$work/gpu-check"
mkdir -p "$res"

# Rewrites summary.json and the archive from what is in the work folder now; cheap (logs and JSON only).
checkpoint() {
  timeout 30 python3 "$root/tools/gpu/gpu_check_summary.py" "$res" "$out/summary.json" "$budget" \
    || echo "gpu-check: could not write summary.json" >&2
  [ -f "$res/tests.log" ] && cp "$res/tests.log" "$out/tests.log.tmp" && mv "$out/tests.log.tmp" "$out/tests.log"
  timeout 30 tar -czf "$out/gpu-check.tar.gz.tmp" -C "$work" gpu-check && mv "$out/gpu-check.tar.gz.tmp" "$out/gpu-check.tar.gz"
}

finish() {
  checkpoint
  timeout 30 python3 "$root/tools/gpu/gpu_check_summary.py" "$res" "$out/summary.json" "$budget" --final
  local rc=$?
  rm -rf "$work"
  exit $rc
}
trap finish EXIT
trap 'stop "interrupted by a signal"; exit' TERM INT

# Records why the run ends early; the summary reports it and the exit status is 2.
stop() {
  echo "gpu-check: $1"
  echo "$1" >> "$res/stopped.txt"
}

record() { # $1 = step, $2 = exit status or null, $3 = seconds, $4 = limit, $5 = why it was skipped or ""
  local timed_out=false skipped=""
  [[ "$2" == 124 || "$2" == 137 ]] && timed_out=true
  [ -n "$5" ] && skipped=",\"skipped\":\"$5\""
  printf '{"step":"%s","exit":%s,"seconds":%d,"limit":%d,"timed_out":%s%s}\n' "$1" "$2" "$3" "$4" "$timed_out" \
    "$skipped" >> "$res/steps.jsonl"
  echo "gpu-check: step $1: exit $2 after $3 s (limit $4 s)${5:+, skipped: $5}"
}

step() { # $1 = name, $2 = seconds wanted, $3 = log file in the work folder, rest = the command
  local name="$1" want="$2" log="$res/$3"
  shift 3
  local left=$(( budget - ($(date +%s) - t0) ))
  local secs=$(( want < left ? want : left ))
  if (( secs < 5 )); then
    record "$name" null 0 $(( secs > 0 ? secs : 0 )) "the ${budget} s budget is spent"
    checkpoint
    return 124
  fi
  local s0
  s0=$(date +%s)
  timeout -k 10 "$secs" "$@" > "$log" 2>&1
  local rc=$?
  record "$name" "$rc" $(( $(date +%s) - s0 )) "$secs" ""
  checkpoint
  return $rc
}

step unpack 60 unpack.log tar -xzf "$tarball" -C "$work" || { stop "could not unpack $tarball (see unpack.log)"; exit; }
rt="$work/flux-erase-runtime"
java="$rt/java/bin/java"
jflags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC)
console="$(ls "$rt"/lib/junit-platform-console-standalone-*.jar)"
cp="$rt/lib/flux-erase.jar:$rt/test-classes:$root/src/test/resources"

if (( stand_in )); then
  step stand_in 60 stand-in.log bash "$root/tools/cuda-standin/build.sh" "$work/cuda-standin" \
    || { stop "could not build the stand-in CUDA libraries (see stand-in.log)"; exit; }
  export FLUX_ERASE_CUDA_LIB_DIR="$work/cuda-standin${FLUX_ERASE_CUDA_LIB_DIR:+:$FLUX_ERASE_CUDA_LIB_DIR}"
fi
step nvidia_smi 20 nvidia-smi.txt nvidia-smi
cat "$res/nvidia-smi.txt"
# The image's python3 is a virtualenv: its nvidia wheels (cuBLASLt) are where no fixed prefix points, so ask it where
# they are and hand the folders to Java (CudaLibraries reads FLUX_ERASE_CUDA_LIB_DIR; Java never runs python).
step python_libs 30 python-libs.txt python3 -c '
import os, sys
print("prefix=" + sys.prefix)
try:
    import nvidia
except ImportError:
    nvidia = None
for p in (list(nvidia.__path__) if nvidia else []):
    for sub in sorted(os.listdir(p)):
        if os.path.isdir(os.path.join(p, sub, "lib")):
            print("lib=" + os.path.join(p, sub, "lib"))'
pylibs="$(sed -n 's/^lib=//p' "$res/python-libs.txt" | paste -sd:)"
if [ -n "$pylibs" ]; then
  export FLUX_ERASE_CUDA_LIB_DIR="${FLUX_ERASE_CUDA_LIB_DIR:+$FLUX_ERASE_CUDA_LIB_DIR:}$pylibs"
fi
cat "$res/python-libs.txt"
step report 60 cuda-report.txt "$java" "${jflags[@]}" -cp "$cp" dev.fluxerase.cuda.CudaRuntimeInfo
cat "$res/cuda-report.txt"
missing=()
grep -q '^  driver: ' "$res/cuda-report.txt" || missing+=("a CUDA driver that sees a GPU")
grep -q '^  cuBLASLt: lib' "$res/cuda-report.txt" || missing+=("cuBLASLt")
if (( ${#missing[@]} )) && (( ! keep_going )); then
  stop "missing $(IFS=,; echo "${missing[*]}" | sed 's/,/ and /') (cuda-report.txt lists the folders searched;\
 python3's nvidia lib folders: ${pylibs:-none}): every GPU test would skip"
  exit
fi

have_torch=0
step torch_check 60 torch-check.log python3 -c 'import torch; assert torch.cuda.is_available()' && have_torch=1

run_tests() { # $1 = name, $2 = seconds, $3 = FLUX_ERASE_CUDA_SYNC (1: wait after every launch), rest = classes
  local name="$1" secs="$2" sync="$3"
  shift 3
  step "$name" "$secs" "$name.log" env FLUX_ERASE_CUDA_SYNC="$sync" GPU_CHECK_JFLAGS="${jflags[*]}" \
    bash "$root/tools/gpu/test-classes.sh" "$res/junit-$name" "$java" "$console" "$cp" "$@"
}

torch_step() { # $1 = name, $2 = seconds, $3 = script under tools/gpu
  if (( have_torch )); then
    step "$1" "$2" "$1.log" python3 "$root/tools/gpu/$3"
  else
    record "$1" null 0 0 "no PyTorch with CUDA (see torch-check.log)"
  fi
}

# correctness with every launch waited for, so a fault names its kernel (cuda/CudaDebug); timings without
run_tests tests 240 1 CudaDriverTest CudaBackendParityTest CudaAttentionTest CudaFluxGoldenTest CudaEraseTest
tail -n 60 "$res/tests.log"
# The steps below only time, so no number of theirs is checked; on the stand-in the reference GEMM would spend most of
# flux_blocks' minute on the modulation layers' GEMMs, which are small enough for it to compute.
(( stand_in )) && export FLUX_ERASE_STANDIN_GEMM_MAX_MACS=0
step flux_blocks 90 flux-blocks.log "$java" "${jflags[@]}" -cp "$cp" dev.fluxerase.cuda.FullSizeFluxTiming blocks
torch_step torch_blocks 90 flux_blocks_torch.py
if (( stand_in )); then
  record flux_model null 0 0 "stand-in: FLUX.1-dev's 23.8 GB of weights would be host memory here"
else
  step flux_model 150 flux-model.log "$java" "${jflags[@]}" -cp "$cp" dev.fluxerase.cuda.FullSizeFluxTiming model
fi
# its 23.8 GB checkpoint file goes to the work folder, outside the archived gpu-check/, and is removed at once
if (( stand_in )); then
  record erase_model null 0 0 "stand-in: FLUX.1-dev's 23.8 GB of weights would be host memory here"
else
  step erase_model 120 erase-model.log "$java" "${jflags[@]}" -cp "$cp" dev.fluxerase.cuda.FullSizeEraseTiming \
    "$work/erase-model"
  rm -rf "$work/erase-model"
fi
run_tests timing 90 0 CudaTimingTest
torch_step torch_ops 60 torch_ops.py
# Last, with what is left of the budget: the parity tests once under compute-sanitizer's memcheck, which finds
# out-of-bounds and misaligned accesses that a wrong result need not show. It works on one of the GPU machines'
# runtimes and refuses the device on the other (the library's device/KINDS.md), so a refusal is recorded, not fatal.
if (( stand_in )); then
  record memcheck null 0 0 "stand-in: no kernel runs"
elif ! command -v compute-sanitizer > /dev/null; then
  record memcheck null 0 0 "compute-sanitizer is not on the PATH"
elif (( ${#missing[@]} )); then
  record memcheck null 0 0 "no usable GPU"
else
  step memcheck 120 memcheck.log env FLUX_ERASE_CUDA_SYNC=1 GPU_CHECK_JFLAGS="${jflags[*]}" \
    GPU_CHECK_WRAP="compute-sanitizer --tool memcheck --target-processes all --error-exitcode 3" \
    bash "$root/tools/gpu/test-classes.sh" "$res/junit-memcheck" "$java" "$console" "$cp" CudaBackendParityTest
fi
