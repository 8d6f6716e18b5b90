#!/usr/bin/env bash
# Builds the stand-in CUDA libraries (docs/cuda.md, "The stand-in CUDA libraries") with the system C compiler:
#   bash tools/cuda-standin/build.sh [OUT]     (OUT defaults to target/cuda-standin)
# into OUT/libcuda.so.1 and OUT/libcublasLt.so.13, the names CudaLibraries looks for, so that pointing
# FLUX_ERASE_CUDA_LIB_DIR (or -Dflux.erase.cuda.lib.dir) at OUT selects them. Where cuda.h is installed, cuda.c is
# also compiled against it, so that every function it defines and every constant it uses is cuda.h's.
# Exit status 3 when there is no C compiler, so that a caller can skip with that reason.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../target/cuda-standin}"
cc="${CC:-cc}"
if ! command -v "$cc" > /dev/null; then
  echo "no C compiler ($cc) to build the CUDA stand-in libraries" >&2
  exit 3
fi
flags=(-std=c11 -O2 -Wall -Wextra -Werror -fPIC)
include="${CUDA_INCLUDE:-/usr/local/cuda/include}"
if [ -f "$include/cuda.h" ]; then
  "$cc" "${flags[@]}" -fsyntax-only -DSTANDIN_CUDA_H -I "$include" "$here/cuda.c"
fi
mkdir -p "$out"
for lib in cuda.c:libcuda.so.1 cublaslt.c:libcublasLt.so.13; do
  src="${lib%%:*}" name="${lib#*:}"
  # Built beside and renamed, so that a JVM that has the old file open keeps a whole one. No soname: once a JVM has
  # loaded the stand-in by its path, the loader would hand it out for a later dlopen("libcuda.so.1") by name too
  # (CudaDriver's last resort), and a test asking whether this machine has a real driver would be told yes.
  "$cc" "${flags[@]}" -shared -o "$out/$name.$$" "$here/$src" -lpthread -lm
  mv -f "$out/$name.$$" "$out/$name"
done
