#!/usr/bin/env python3
"""Copies what the pipeline tests use from the pipeline-tiny golden into src/test/resources/pipeline-tiny/.

- model/: the tiny diffusers FLUX folder, byte for byte, except the tokenizers' large files, stored gzipped (the
  tokenizers read NAME.gz when NAME is absent): tokenizer/vocab.json.gz and merges.txt.gz, tokenizer_2/tokenizer.json.gz;
  spiece.model (the slow T5 tokenizer's file, unused) is left out.
- lora_visible.safetensors: the case cat_lora_32_s4's LoRA, unchanged.
- cases/<name>/inputs.safetensors: the initial packed latents, unchanged.
- cases/<name>/reference.safetensors: the tensors the tests compare, from both runs: "f32.<name>" from outputs_f32
  (unchanged) and "f64.<name>" from outputs_f64 rounded once to float32 (a relative change of at most 6e-8, far below
  every bound the tests use). Ids stay I64. Tensors the tests do not compare are left out.

Usage: tools/pipeline-golden-copy.py [/work/shared/golden/pipeline-tiny] [src/test/resources/pipeline-tiny]
Needs only numpy (the format is read and written by tools/safetensors_np.py).
"""
import gzip
import json
import os
import shutil
import sys

import numpy as np

from safetensors_np import read, write


CASES = {
    # name: tensors compared (from f32 / from f64)
    "cat_32_s4": ["clip_input_ids", "t5_input_ids", "pooled_prompt_embeds", "prompt_embeds", "latent_image_ids",
                  "sigmas", "timesteps", "transformer_timestep_input", "noise_pred", "latents_per_step",
                  "decoded_raw", "image"],
    "cat_lora_32_s4": ["noise_pred", "latents_per_step", "decoded_raw", "image"],
    "nude_girl_64_s4_msl512": ["clip_input_ids", "t5_input_ids", "pooled_prompt_embeds", "prompt_embeds", "sigmas",
                               "latents_per_step", "image"],
    "punct_32_s28": ["clip_input_ids", "t5_input_ids", "pooled_prompt_embeds", "prompt_embeds", "sigmas",
                     "latents_per_step", "image"],
}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/golden/pipeline-tiny"
    dst = sys.argv[2] if len(sys.argv) > 2 else "src/test/resources/pipeline-tiny"
    if os.path.exists(dst):
        for d, dirs, files in os.walk(dst):
            os.chmod(d, 0o755)
        shutil.rmtree(dst)
    shutil.copytree(os.path.join(src, "model"), os.path.join(dst, "model"),
                    ignore=shutil.ignore_patterns("spiece.model", "tokenizer.json", "vocab.json", "merges.txt"))
    for part, name in (("tokenizer_2", "tokenizer.json"), ("tokenizer", "vocab.json"), ("tokenizer", "merges.txt")):
        with open(os.path.join(src, "model", part, name), "rb") as f:
            raw = f.read()
        with gzip.GzipFile(os.path.join(dst, "model", part, name + ".gz"), "wb", mtime=0) as g:
            g.write(raw)
    shutil.copy(os.path.join(src, "loras", "lora_visible.safetensors"), dst)
    for case, names in CASES.items():
        cdir = os.path.join(dst, "cases", case)
        os.makedirs(cdir)
        shutil.copy(os.path.join(src, "cases", case, "inputs.safetensors"), cdir)
        f32, _ = read(os.path.join(src, "cases", case, "outputs_f32.safetensors"))
        f64, _ = read(os.path.join(src, "cases", case, "outputs_f64.safetensors"))
        out = {}
        for run, tensors in (("f32", f32), ("f64", f64)):
            for n in names:
                if n not in tensors:
                    continue
                dtype, arr = tensors[n]
                if dtype == "F64":
                    dtype, arr = "F32", arr.astype(np.float32)
                out[run + "." + n] = (dtype, arr)
        write(os.path.join(cdir, "reference.safetensors"), out,
              {"source": "pipeline-tiny " + case + ": outputs_f32 (f32.*) and outputs_f64 rounded to float32 (f64.*)"})
    for d, dirs, files in os.walk(dst):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    print("wrote", dst)


if __name__ == "__main__":
    main()
