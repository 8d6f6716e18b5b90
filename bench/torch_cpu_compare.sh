#!/usr/bin/env bash
# Builds the benchmark jar and times our FLUX model (FLUX.1-dev widths, 1 double + 1 single block) against PyTorch on
# the CPU in alternating rounds (see bench/README.md). Extra arguments go to torch_cpu_compare.py (--rounds N,
# --jvm-opts "...", --ops forward forwardBackward, --threads N). Needs Debian's python3-torch and an optimized BLAS
# (apt-get install python3-torch libopenblas0-pthread: without the latter Debian's torch runs its linear layers on the
# single-threaded reference BLAS, over 100x slower); nothing else in the project uses PyTorch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export PATH="$JAVA_HOME/bin:$PATH"
mvn -q -B -f "$here/pom.xml" package
# PyTorch's own threads and OpenBLAS's (Debian's torch calls the system BLAS) as many as ours.
export OMP_NUM_THREADS="$(nproc)" OPENBLAS_NUM_THREADS="$(nproc)"
# /usr/bin/python3: Debian's python3-torch lives in the system interpreter, not in a pyenv or venv one on the PATH.
exec /usr/bin/python3 "$here/torch_cpu_compare.py" --jar "$here/target/benchmarks.jar" --java "$JAVA_HOME/bin/java" "$@"
