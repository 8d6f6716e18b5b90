#!/usr/bin/env bash
# Two builds or two JVM settings of our GEMM against each other in one run: two warm GemmRatio JVMs (bench/README.md),
# A and B, get the same GEMM command in turn, case by case and round by round, A first in odd rounds and B first in even
# ones, so that load from other processes hits both alike. Prints each round's best-of-3 seconds and, at the end, per
# case the median milliseconds of each side and the median over rounds of A/B (above 1: B faster) with its range.
# Usage: bench/gemm_ab.sh JAR_A JAR_B "FLAGS_A" "FLAGS_B" ROUNDS "MxKxN kind" ["MxKxN kind" ...]
#   e.g. bench/gemm_ab.sh old.jar bench/target/benchmarks.jar "" "" 7 "1x3072x18432 bf16-wt" "1280x3072x3072 f32-wt"
set -euo pipefail
ja=$1 jb=$2 fa=$3 fb=$4 rounds=$5
shift 5
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkfifo "$d/ai" "$d/ao" "$d/bi" "$d/bo"
jv="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g"
# shellcheck disable=SC2086
java $jv $fa -cp "$ja" dev.fluxerase.bench.GemmRatio < "$d/ai" > "$d/ao" 2>/dev/null &
# shellcheck disable=SC2086
java $jv $fb -cp "$jb" dev.fluxerase.bench.GemmRatio < "$d/bi" > "$d/bo" 2>/dev/null &
exec 3>"$d/ai" 4<"$d/ao" 5>"$d/bi" 6<"$d/bo"
read -r -u 4 _; read -r -u 6 _
ask() { echo "$2 3" >&"$1"; read -r -u $(($1 + 1)) line; echo "${line%% *}"; }
for c in "$@"; do ask 3 "$c" >/dev/null; ask 5 "$c" >/dev/null; ask 3 "$c" >/dev/null; ask 5 "$c" >/dev/null; done
for r in $(seq "$rounds"); do
    for c in "$@"; do
        if [ $((r % 2)) = 1 ]; then a=$(ask 3 "$c"); b=$(ask 5 "$c"); else b=$(ask 5 "$c"); a=$(ask 3 "$c"); fi
        echo "$c $a $b"
    done
done | tee "$d/rounds"
exec 3>&- 5>&-
wait
echo "case | A ms | B ms | A/B median [lowest-highest]"
awk '{k = $1 " " $2; n[k]++; a[k, n[k]] = $3 * 1000; b[k, n[k]] = $4 * 1000; r[k, n[k]] = $3 / $4}
     function med(x, k, m,    i, j, t, v) { for (i = 1; i <= m; i++) v[i] = x[k, i]
         for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
         lo = v[1]; hi = v[m]; return v[int((m + 1) / 2)] }
     END { for (k in n) { ma = med(a, k, n[k]); mb = med(b, k, n[k]); mr = med(r, k, n[k])
         printf "%s | %.2f | %.2f | %.2f [%.2f-%.2f]\n", k, ma, mb, mr, lo, hi } }' "$d/rounds"
