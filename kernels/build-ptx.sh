#!/usr/bin/env bash
# Regenerates the PTX the CUDA backend loads (src/main/resources/dev/fluxerase/cuda/ptx/<family>.ptx.gz) from kernels/*.cu
# with the flags in kernels/nvcc-flags.txt, gzipped without a name or time stamp (gzip -9n, so a rerun writes the same
# bytes) because PTX text is five times larger than the repository's budget wants. Each PTX starts with a line naming the sha256 of its sources (the .cu, then
# every kernels/*.cuh in C-locale name order); KernelSourcesTest fails when a source changes without a rerun.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
out="$root/src/main/resources/dev/fluxerase/cuda/ptx"
mkdir -p "$out"
cd "$root/kernels"
read -r -a flags < nvcc-flags.txt
mapfile -t headers < <(LC_ALL=C ls -1 -- *.cuh)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for cu in *.cu; do
  family="${cu%.cu}"
  hash="$(cat "$cu" "${headers[@]}" | sha256sum | cut -d' ' -f1)"
  "$nvcc" "${flags[@]}" -I. -o "$tmp/$family.ptx" "$cu"
  { echo "// flux-erase: generated from kernels/$cu by kernels/build-ptx.sh; sources sha256 $hash"; cat "$tmp/$family.ptx"; } \
    > "$tmp/$family.ptx.new"
  gzip -9nc "$tmp/$family.ptx.new" > "$tmp/$family.ptx.gz"
  mv "$tmp/$family.ptx.gz" "$out/$family.ptx.gz"
  rm -f "$out/$family.ptx"
  echo "$family.ptx.gz $(wc -c < "$out/$family.ptx.gz") bytes ($(wc -c < "$tmp/$family.ptx.new") uncompressed)"
done
