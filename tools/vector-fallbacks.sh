#!/usr/bin/env bash
# Finds Vector API operations that C2 leaves to their scalar Java fallback in the CPU backend's hot loops: runs one
# FluxModelBench benchmark (the mid config, CpuBackend), then FLUX's VAE decoder and a mid-size T5 encoder (the conv's
# im2col gathers and the encoders' GEMMs; dev.fluxerase.vae.CodecTorchSide from the test classes), under JFR once per JVM
# setting and counts the execution samples that fall in a fallback (tools/VectorFallbacks.java), naming the project
# lines that called it. From the repository root:
#   bash tools/vector-fallbacks.sh [BENCHMARK]     (default forwardBackward: forward and every gradient; one benchmark,
#                                                   since each JMH fork writes the same recording)
# Settings: -XX:MaxVectorSize=64 (AVX-512), =32 (256-bit vectors with AVX-512's instructions) and -XX:UseAVX=2 (an AVX2
# machine: no scatter instructions, fewer masked ones).
# The first 20 s of each run (setup and JIT warm-up, when everything runs the fallbacks) are left out.
# Exit status 1 when a setting had more than 0.5 % of its samples in fallbacks (VectorFallbacks.java says why not 0).
# Builds bench/target/benchmarks.jar first; recordings and reports go to ${OUT:-target}/vector-fallbacks.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# every java and mvn below is JDK 25's (a JDK 17 on the PATH ran none of the recordings and reported 0 samples)
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export PATH="$JAVA_HOME/bin:$PATH"
bench="FluxModelBench.${1:-forwardBackward}\$"
out="${OUT:-$root/target}/vector-fallbacks"
mkdir -p "$out"
mvn -q -B -f bench/pom.xml package || exit 2
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile="$root/target/cp.txt" || exit 2
codecs="$root/target/classes:$root/target/test-classes:$(cat "$root/target/cp.txt")"
settings=("-XX:MaxVectorSize=64" "-XX:MaxVectorSize=32" "-XX:UseAVX=2")
status=0
for s in "${settings[@]}"; do
    name="${s#-XX:}"; name="${name//=/-}"
    jfr="$out/$name.jfr"
    jvm="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g $s"
    java -jar bench/target/benchmarks.jar "$bench" -p config=mid -f 1 -wi 3 -i 8 \
        -jvmArgsAppend "$jvm -XX:StartFlightRecording=filename=$jfr,settings=profile" > "$out/$name.jmh.txt" 2>&1 \
        || { echo "$s: benchmark failed, see $out/$name.jmh.txt"; status=1; continue; }
    echo "== $s"
    java tools/VectorFallbacks.java "$jfr" 20 | tee "$out/$name.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    # a decode of a 128x128 image and two 256-token encodes, 20 times over, 30 to 60 s: both paths are compiled within
    # the first 15 s, which are left out (on a fast machine T5's element-wise ops still ran C1 code, and so the
    # fallbacks, 10 to 15 s in: 70 of 3250 samples after 10 s, 1 of 2610 after 15)
    jfr="$out/$name-codecs.jfr"
    for i in $(seq 20); do printf 'vae 16\nt5 256\nt5 256\n'; done \
        | java $jvm -XX:StartFlightRecording=filename="$jfr",settings=profile -cp "$codecs" \
            dev.fluxerase.vae.CodecTorchSide > "$out/$name-codecs.log" 2>&1 \
        || { echo "$s: the VAE and T5 run failed, see $out/$name-codecs.log"; status=1; continue; }
    echo "== $s, VAE decode and T5 encode"
    java tools/VectorFallbacks.java "$jfr" 15 | tee "$out/$name-codecs.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
exit $status
