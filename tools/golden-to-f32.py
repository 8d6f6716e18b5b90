#!/usr/bin/env python3
"""Copies the parts of the flux-tiny golden case that the Java tests use into src/test/resources/golden/flux-tiny/,
in the smallest exact form: float64 weights and reference tensors rounded once to float32 (a relative change of at
most 6e-8, far below every test bound), the BF16 weights and the float64 inputs unchanged.

The diffusers-named weights are not copied: the tests rebuild them from the BFL weights with name_map.json, and this
script checks that this rebuild reproduces weights_diffusers.safetensors bit for bit.

Usage: tools/golden-to-f32.py [/work/shared/golden/flux-tiny] [src/test/resources/golden/flux-tiny]
Needs only numpy (the format is read and written by tools/safetensors_np.py).
"""
import json
import os
import shutil
import sys

import numpy as np

from safetensors_np import read, write


def to_f32(src, dst, keep=None, rename=None):
    tensors, meta = read(src)
    out = {}
    for name, (dtype, arr) in tensors.items():
        if keep is not None and name not in keep:
            continue
        out[(rename or {}).get(name, name)] = ("F32", arr.astype("<f4")) if dtype == "F64" else (dtype, arr)
    meta = dict(meta, converted="float64 rounded to float32 by tools/golden-to-f32.py")
    write(dst, out, meta)


def check_name_map(src):
    bfl, _ = read(os.path.join(src, "weights_bfl.safetensors"))
    diff, _ = read(os.path.join(src, "weights_diffusers.safetensors"))
    name_map = json.load(open(os.path.join(src, "name_map.json")))["map"]
    assert set(name_map) == set(diff), "name_map.json does not cover weights_diffusers exactly"
    for d, m in name_map.items():
        t = bfl[m["bfl"]][1]
        if m["rows"] is not None:
            t = t[m["rows"][0]:m["rows"][1]]
        if m["swap_halves"]:
            h = t.shape[0] // 2
            t = np.concatenate([t[h:], t[:h]])
        assert np.array_equal(t, diff[d][1]), d


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/golden/flux-tiny"
    dst = sys.argv[2] if len(sys.argv) > 2 else "src/test/resources/golden/flux-tiny"
    os.makedirs(dst, exist_ok=True)
    check_name_map(src)
    j = lambda n: os.path.join(src, n)
    o = lambda n: os.path.join(dst, n)
    to_f32(j("weights_bfl.safetensors"), o("weights_bfl.safetensors"))
    # weights_bfl_bf16 is not copied: the tests round the f32 weights to bf16 themselves (Golden.weightsBf16), which
    # gives the reference's bf16 file element for element
    shutil.copyfile(j("inputs.safetensors"), o("inputs.safetensors"))
    shutil.copyfile(j("name_map.json"), o("name_map.json"))
    to_f32(j("outputs.safetensors"), o("outputs.safetensors"), keep={"out_f64"})
    to_f32(j("grads_f64.safetensors"), o("grads.safetensors"))
    inter, _ = read(j("intermediates_f64.safetensors"))
    to_f32(j("intermediates_f64.safetensors"), o("intermediates.safetensors"), keep=set(inter) - {"pe"})
    to_f32(j("lora_weights.safetensors"), o("lora_weights.safetensors"))
    lora_out, _ = read(j("lora_outputs.safetensors"))
    to_f32(j("lora_outputs.safetensors"), o("lora_outputs.safetensors"),
           keep={n for n in lora_out if n.endswith("_f64") and not n.startswith("loss")})
    to_f32(j("lora_grads_f64.safetensors"), o("lora_grads.safetensors"))
    config = json.load(open(j("manifest.json")))["config"]
    with open(o("config.json"), "w") as f:
        json.dump(config, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
