"""Copies the ONNX goldens of shared/golden/eval-tiny/onnx into src/test/resources/eval-tiny/onnx in their smallest
exact form (the README written there lists what is kept and what the tests rebuild). Usage, from the repository root:
    python3 tools/onnx-golden-copy.py [/work/shared/golden/eval-tiny] [src/test/resources/eval-tiny/onnx]
"""
import gzip
import hashlib
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

src = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/golden/eval-tiny"
dst = sys.argv[2] if len(sys.argv) > 2 else "src/test/resources/eval-tiny/onnx"
onnx = os.path.join(src, "onnx")
os.makedirs(dst, exist_ok=True)

# The classifier as it is (gzip saves 2 KB of 14), and the detector gzipped without name or time stamp (116 -> 77 KB).
shutil.copyfile(os.path.join(onnx, "classifier.onnx"), os.path.join(dst, "classifier.onnx"))
with open(os.path.join(onnx, "detector.onnx"), "rb") as f, gzip.GzipFile(os.path.join(dst, "detector.onnx.gz"), "wb",
                                                                        9, mtime=0) as g:
    g.write(f.read())
for name in ("det0_200x120.png", "det1_90x150.png"):
    shutil.copyfile(os.path.join(onnx, name), os.path.join(dst, name))


def floats(a):
    """float32 values as the doubles they are (exact; Java's (float) of the parsed double gives them back)."""
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


# Classifier: the rows whose input is a golden image's pixel_values_32 (the tests recompute those from the PNGs in
# eval-tiny/clip-score/images); input_2's two random N(0,1) rows are left out (24 KB of floats that do not compress).
io, _ = safetensors_np.read(os.path.join(onnx, "classifier_io.safetensors"))
pre, _ = safetensors_np.read(os.path.join(src, "images", "preprocess.safetensors"))
cases = [("img0", "0", 0), ("img1", "1", 0), ("img2", "1", 1), ("img3", "2", 0)]
rows = []
for image, case, row in cases:
    assert np.array_equal(io["input_" + case][1][row], pre[image + ".pixel_values_32"][1][0]), image
    rows.append({"image": image, "golden_case": "input_" + case, "golden_row": row,
                 "logits": floats(io["logits_" + case][1][row]), "probs": floats(io["probs_" + case][1][row]),
                 "argmax": int(np.argmax(io["logits_" + case][1][row]))})
with open(os.path.join(dst, "classifier-golden.json"), "w") as f:
    json.dump({"about": "onnxruntime 1.30 logits and float32 softmax of classifier.onnx on the 4 golden images",
               "rows": rows}, f, indent=1)
    f.write("\n")

# Detector: per picture the sha256 of the network input (uint8 planes B, G, R), every candidate row of the raw output
# in full, a sample of the rest (every 100th anchor), each candidate's box before NMS, and the detections; the other 98%
# of output0 is not kept.
det, _ = safetensors_np.read(os.path.join(onnx, "detector_io.safetensors"))
golden = json.load(open(os.path.join(onnx, "detector.json")))
tensors = {}
pictures = []
for p in golden["images"]:
    out = det[p["name"] + ".output0"][1][0]
    cand = [c["row"] for c in p["candidates"]]
    sample = list(range(0, out.shape[1], 100))
    tensors[p["name"] + ".candidate_anchors"] = ("I64", np.array(cand, dtype=np.int64))
    tensors[p["name"] + ".candidates"] = ("F32", out[:, cand])
    tensors[p["name"] + ".sample_anchors"] = ("I64", np.array(sample, dtype=np.int64))
    tensors[p["name"] + ".sample"] = ("F32", out[:, sample])
    tensors[p["name"] + ".candidate_boxes"] = ("F32", np.array([c["box_xywh"] for c in p["candidates"]],
                                                                dtype=np.float32))
    u8 = det[p["name"] + ".images_u8"][1]
    pictures.append({
        "name": p["name"], "file": p["file"], "width": p["width"], "height": p["height"],
        "images_u8_sha256": hashlib.sha256(u8.tobytes()).hexdigest(),
        "images_u8_first": [int(v) for v in u8.ravel()[:16]],
        "candidate_classes": [c["class_id"] for c in p["candidates"]],
        "detections": [{"class": d["class"], "class_id": d["class_id"], "score": d["score"], "box": d["box"]}
                       for d in p["detections"]]})
safetensors_np.write(os.path.join(dst, "detector-output.safetensors"), tensors,
                     {"about": "output0 [22, n] columns of the golden pictures: candidate anchors and every 100th; candidate boxes"})
with open(os.path.join(dst, "detector-output.safetensors"), "rb") as f, gzip.GzipFile(
        os.path.join(dst, "detector-output.safetensors.gz"), "wb", 9, mtime=0) as g:
    g.write(f.read())
os.remove(os.path.join(dst, "detector-output.safetensors"))
with open(os.path.join(dst, "detector-golden.json"), "w") as f:
    json.dump({"labels": golden["labels"], "min_score": golden["min_score"],
               "nms_score_threshold": golden["nms_score_threshold"], "nms_iou_threshold": golden["nms_iou_threshold"],
               "pictures": pictures}, f, separators=(",", ":"))
    f.write("\n")
