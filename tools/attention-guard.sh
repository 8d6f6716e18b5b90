#!/usr/bin/env bash
# Guards the CPU attention core against falling behind the GEMM: runs AttentionBench (the streaming kernel, forward and
# backward, 1280 tokens: FLUX at 512²) and GemmBench (1280x3072x3072, f32) in one JMH run, divides each attention
# GFLOP/s by the GEMM's, and fails when a ratio is more than 15% below the one recorded in bench/attention-ratio.txt.
# A ratio, not a time: it holds on any machine; record a new one (--record) only with a reason in bench/README.md.
# Usage: tools/attention-guard.sh [--record]      (builds bench/target/benchmarks.jar first; about 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
mvn -q -B -f bench/pom.xml package
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
java -jar bench/target/benchmarks.jar 'AttentionBench|GemmBench' -p tokens=1280 -p impl=streaming \
  -p shape=1280x3072x3072 -p kind=f32 -wi 1 -w 3 -i 3 -r 4 -rf json -rff "$out/r.json" > "$out/log" 2>&1 \
  || { tail -20 "$out/log"; exit 1; }
python3 - "$out/r.json" bench/attention-ratio.txt "${1:-}" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
rate = {}
for r in res:
    name = r["benchmark"].rsplit(".", 1)[1]
    rate[name] = r["secondaryMetrics"]["gflops"]["score"]
ratios = {op: rate[op] / rate["gemm"] for op in ("forward", "backward")}
line = " ".join(f"{op} {ratios[op]:.3f}" for op in ("forward", "backward"))
print(f"GEMM {rate['gemm']:.1f} GFLOP/s; attention forward {rate['forward']:.1f}, backward {rate['backward']:.1f}; "
      f"ratios to GEMM: {line}")
if sys.argv[3] == "--record":
    open(sys.argv[2], "w").write(line + "\n")
    print("recorded in " + sys.argv[2])
    sys.exit(0)
words = open(sys.argv[2]).read().split()
recorded = {words[i]: float(words[i + 1]) for i in range(0, len(words), 2)}
bad = [op for op in ratios if ratios[op] < 0.85 * recorded[op]]
for op in ratios:
    print(f"{op}: {ratios[op]:.3f} against recorded {recorded[op]:.3f} (floor {0.85 * recorded[op]:.3f})")
if bad:
    print("attention fell more than 15% behind the GEMM: " + ", ".join(bad))
    sys.exit(1)
PY
