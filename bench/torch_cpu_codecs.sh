#!/usr/bin/env bash
# Builds the test classes and times our T5 encoder and VAE decoder against PyTorch on the CPU in alternating rounds
# (bench/README.md). Extra arguments go to torch_cpu_codecs.py (--rounds N, --jvm-opts=-XX:MaxVectorSize=32 (with the
# "=": the value starts with a dash; give it several times for one Java side each), --ops "t5 512" "vae 32", --threads N).
# Needs what torch_cpu_compare.sh needs: Debian's python3-torch and libopenblas0-pthread.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export PATH="$JAVA_HOME/bin:$PATH"
mvn -q -B -f "$root/pom.xml" test-compile dependency:build-classpath -Dmdep.outputFile="$root/target/cp.txt"
export OMP_NUM_THREADS="$(nproc)" OPENBLAS_NUM_THREADS="$(nproc)"
cd "$here"
exec /usr/bin/python3 "$here/torch_cpu_codecs.py" --java "$JAVA_HOME/bin/java" \
    --classpath "$root/target/classes:$root/target/test-classes:$(cat "$root/target/cp.txt")" "$@"
