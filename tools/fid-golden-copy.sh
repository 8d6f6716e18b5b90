#!/bin/sh
# Copies the FID goldens into src/test/resources/eval-tiny/fid/: fid.json as it is, and the two safetensors files gzipped
# without a name or time stamp (exact, 65 KB smaller: gzip finds sigma's repeated symmetric entries; the float64 features
# themselves hardly compress). FidTest unzips them into a temporary folder.
# Usage: tools/fid-golden-copy.sh [/work/shared/golden/eval-tiny/fid] [src/test/resources/eval-tiny/fid]
set -eu
src=${1:-/work/shared/golden/eval-tiny/fid}
dst=${2:-src/test/resources/eval-tiny/fid}
mkdir -p "$dst"
cp "$src/fid.json" "$dst/fid.json"
chmod 644 "$dst/fid.json"
for name in fid_a fid_b_near_singular; do
    gzip -9 -n -c "$src/$name.safetensors" > "$dst/$name.safetensors.gz"
done
