#!/usr/bin/env bash
# Builds the benchmark jar and compares CpuGemm with numpy/OpenBLAS float32 matmul in one run (see bench/README.md).
# Extra arguments go to gemm_vs_openblas.py (--rounds N, --reps N, --shapes MxKxN ...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export PATH="$JAVA_HOME/bin:$PATH"
mvn -q -B -f "$here/pom.xml" package
threads="$(nproc)"
# numpy uses as many threads as we do; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are dropped so that OpenBLAS picks its own
# kernel and blocking for this CPU.
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" \
    python3 "$here/gemm_vs_openblas.py" --jar "$here/target/benchmarks.jar" --java "$JAVA_HOME/bin/java" "$@"
