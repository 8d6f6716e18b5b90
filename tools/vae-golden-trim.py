#!/usr/bin/env python3
"""Copies the parts of the VAE goldens that the Java tests assert into src/test/resources/vae/, unchanged in value:

  tiny/   from text-vae-tiny/vae_tiny: config_g8.json, config_g32.json, name_map.json, inputs.safetensors and
          weights_diffusers.safetensors verbatim (the BFL naming is tested by renaming these keys in the test, so
          weights_bfl.safetensors is not copied); outputs_g8/g32.safetensors trimmed to the final tensors (decoded, mean,
          logvar, latent_flux in _f32 and _f64; moments is mean|logvar, so it is dropped), plus the encoder and decoder
          intermediates of g32 only (FLUX's group count).
  pipeline/  from pipeline-tiny case cat_32_s4 (the BF16 VAE itself is read from the test resources' copy of the
          whole pipeline-tiny model folder, src/test/resources/pipeline-tiny/model/vae, so it is stored once): final_latents
          unpacked to [1,16,h,w] (an exact permutation, FluxPipeline._unpack_latents), vae_decoder_input, decoded_raw and
          image (F32, and decoded_raw F64).

Usage: tools/vae-golden-trim.py [/work/shared/golden] [src/test/resources/vae]
Needs only numpy (the format is read and written by tools/safetensors_np.py).
"""
import json
import os
import shutil
import sys

import numpy as np

from safetensors_np import read, write


def keep(src, dst, names, meta_note):
    tensors, _ = read(src)
    missing = [n for n in names if n not in tensors]
    if missing:
        sys.exit(f"{src}: missing {missing}")
    write(dst, {n: tensors[n] for n in names}, {"source": meta_note})


def main():
    golden = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/golden"
    out = sys.argv[2] if len(sys.argv) > 2 else "src/test/resources/vae"
    tiny_src = os.path.join(golden, "text-vae-tiny", "vae_tiny")
    tiny = os.path.join(out, "tiny")
    os.makedirs(tiny, exist_ok=True)
    for f in ["config_g8.json", "config_g32.json", "name_map.json", "inputs.safetensors", "weights_diffusers.safetensors"]:
        shutil.copyfile(os.path.join(tiny_src, f), os.path.join(tiny, f))
    finals = [f"{t}_{p}" for t in ["decoded", "mean", "logvar", "latent_flux"] for p in ["f32", "f64"]]
    inter = ["intermediate_" + s + "_f32" for s in ["dec_conv_in", "dec_mid_block", "dec_up_block_0", "dec_up_block_1",
                                                    "enc_conv_in", "enc_down_block_0", "enc_down_block_1", "enc_mid_block"]]
    keep(os.path.join(tiny_src, "outputs_g8.safetensors"), os.path.join(tiny, "outputs_g8.safetensors"), finals,
         "text-vae-tiny/vae_tiny/outputs_g8.safetensors, trimmed by tools/vae-golden-trim.py")
    keep(os.path.join(tiny_src, "outputs_g32.safetensors"), os.path.join(tiny, "outputs_g32.safetensors"), finals + inter,
         "text-vae-tiny/vae_tiny/outputs_g32.safetensors, trimmed by tools/vae-golden-trim.py")

    pipe_src = os.path.join(golden, "pipeline-tiny")
    os.makedirs(os.path.join(out, "pipeline"), exist_ok=True)

    case = "cat_32_s4"
    f32, _ = read(os.path.join(pipe_src, "cases", case, "outputs_f32.safetensors"))
    f64, _ = read(os.path.join(pipe_src, "cases", case, "outputs_f64.safetensors"))
    packed = f32["final_latents"][1]
    dec_in = f32["vae_decoder_input"][1]
    b, c, h, w = dec_in.shape
    unpacked = packed.reshape(b, h // 2, w // 2, c, 2, 2).transpose(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)
    scaled = unpacked / np.float32(0.3611) + np.float32(0.1159)
    if not np.array_equal(scaled.astype("<f4"), dec_in):
        sys.exit("unpacked final_latents / 0.3611 + 0.1159 does not reproduce vae_decoder_input bit for bit")
    write(os.path.join(out, "pipeline", case + ".safetensors"), {
        "final_latents_unpacked": ("F32", unpacked),
        "vae_decoder_input": f32["vae_decoder_input"],
        "decoded_raw_f32": f32["decoded_raw"],
        "decoded_raw_f64": f64["decoded_raw"],
        "image_f32": f32["image"],
    }, {"source": f"pipeline-tiny/cases/{case}, trimmed by tools/vae-golden-trim.py"})


if __name__ == "__main__":
    main()
