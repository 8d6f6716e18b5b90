#!/usr/bin/env bash
# Builds runtime/flux-erase-runtime.tar.gz for a GPU machine that has no JDK: a jlink runtime of JDK 25, the shaded jar,
# the compiled tests, the JUnit console launcher and tools/gpu-check.sh. Prints the tarball's size (must stay < 60 MB:
# the device machine takes 64 MiB in all, the working tree included). Run from anywhere; needs JDK 25 and Maven
# (the first run fetches junit-platform-console-standalone from Maven Central). java.xml is there for the JUnit
# launcher's XML reports.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${JAVA_HOME:-}" ]; then
  for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/jdk-25*; do
    if [ -x "$d/bin/jlink" ]; then export JAVA_HOME="$d"; break; fi
  done
fi
export PATH="$JAVA_HOME/bin:$PATH"
junit_version=1.14.1
name=flux-erase-runtime
out="$root/runtime"
stage="$out/$name"
tarball="$out/$name.tar.gz"

rm -rf "$stage" "$tarball.tmp"
mkdir -p "$stage/lib"
cd "$root"
mvn -q -B -DskipTests package
mvn -q -B dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_version" \
  -DoutputDirectory="$stage/lib"
jlink --add-modules java.base,jdk.incubator.vector,jdk.unsupported,java.management,java.logging,java.xml \
  --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$stage/java"
cp target/flux-erase.jar "$stage/lib/"
# The bundled WordNet databases (3.0 and 3.1, about 21 MB, only used by `erase` to pick words when the run config
# lists none) are left out of the GPU check runtime: the device tool carries at most 64 MiB, the tracked tree included.
zip -q -d "$stage/lib/flux-erase.jar" 'net/sf/extjwnl/*' >/dev/null
# So are ONNX Runtime's native libraries (7.7 MB compressed): only evaluate's ONNX metrics load them, on first use, and
# no GPU check runs one. Its Java classes (0.1 MB) stay, so the jar links as it is.
zip -q -d "$stage/lib/flux-erase.jar" 'ai/onnxruntime/native/*' >/dev/null
# Test classes only: the test resources travel with the repository's working tree (gpu-check.sh puts
# src/test/resources on the class path), so packing them again would count them twice against the device's carry limit.
mkdir -p "$stage/test-classes"
(cd target/test-classes && find . -name "*.class" -exec cp --parents -t "$stage/test-classes" {} +)
cp tools/gpu-check.sh "$stage/"
tar -C "$out" -czf "$tarball.tmp" "$name"
mv "$tarball.tmp" "$tarball"
rm -rf "$stage"
bytes=$(stat -c %s "$tarball")
echo "$tarball: $bytes bytes ($((bytes / 1024 / 1024)) MiB)"
if [ "$bytes" -ge $((60 * 1000 * 1000)) ]; then
  echo "build-gpu-runtime: $tarball is over 60 MB" >&2
  exit 1
fi
