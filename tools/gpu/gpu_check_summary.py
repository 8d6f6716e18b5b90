#!/usr/bin/env python3
"""Sums up a tools/gpu-check.sh run from its work folder: the steps run so far (steps.jsonl), where the CUDA libraries
were found (cuda-report.txt, python-libs.txt), the JUnit counts, every checked tensor's measured error and error bound
(the tests' BOUND lines in tests.log), the JSON lines of every timing step (the full-size erase steps' projected to
whole runs) and the Java /
PyTorch block ratios. gpu-check.sh calls it after every step, so a run that is cut short still leaves the summary of
what finished; the file is replaced atomically (temp file + rename), never left half written.

Usage: gpu_check_summary.py WORK_FOLDER SUMMARY_JSON BUDGET_SECONDS [--final]. With --final it also prints the outcome and exits with
the run's status: 2 when the run stopped early or the GPU tests were skipped (no usable GPU or libraries), else the
GPU tests' exit status (a step that timed out reads 124). A --stand-in run (one with a stand_in step) has no GPU and
reports the exit status of the tests' host side; stand_in says so in the summary."""
import glob
import json
import math
import os
import re
import sys
import xml.etree.ElementTree as ET


def read_lines(res, name):
    path = os.path.join(res, name)
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return [line.rstrip("\n") for line in f]


def json_lines(res, name, prefix=""):
    """The JSON objects on the lines of a log that start with prefix (then '{'); other lines are the log's own."""
    out = []
    for line in read_lines(res, name):
        if line.startswith(prefix + "{"):
            try:
                out.append(json.loads(line[len(prefix):]))
            except ValueError:
                pass
    return out


def junit_counts(res, name):
    c = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for f in glob.glob(os.path.join(res, "junit-" + name, "**", "*.xml"), recursive=True):
        try:
            suites = ET.parse(f).getroot().iter("testsuite")
        except ET.ParseError:
            continue
        for s in suites:
            for key in c:
                c[key] += int(s.get(key, 0))
    return c


BOUND = re.compile(r"BOUND (.+) measured=(\S+) bound=(\S+) ratio=(\S+)\s*$")


def bounds(res):
    """Each checked tensor's measured error and error bound (ErrorBounds' BOUND lines: both relative to max|expected|,
    ratio = measured / bound, above 1 failed), closest to its bound first. A non-finite number (a NaN result) is null,
    and such an entry comes first."""
    out = []
    for line in read_lines(res, "tests.log"):
        m = BOUND.search(line)
        if not m:
            continue
        values = []
        for text in m.groups()[1:]:
            try:
                v = float(text)
            except ValueError:
                v = math.nan
            values.append(v if math.isfinite(v) else None)
        out.append({"name": m.group(1), "measured": values[0], "bound": values[1], "ratio": values[2]})
    out.sort(key=lambda b: (0, 0) if b["ratio"] is None else (1, -b["ratio"]))
    return out


def libraries(res):
    """Where CudaRuntimeInfo found the driver and cuBLASLt, or why not (its own words)."""
    found = {}
    for line in read_lines(res, "cuda-report.txt"):
        s = line.strip()
        if s.startswith("driver: "):
            found["driver"] = s[len("driver: "):]
        elif s.startswith("no CUDA"):
            found.setdefault("driver", s)
        elif s.startswith("cuBLASLt: "):
            found["cublasLt"] = s[len("cuBLASLt: "):]
    python = {"prefix": None, "nvidia_lib_dirs": []}
    for line in read_lines(res, "python-libs.txt"):
        if line.startswith("prefix="):
            python["prefix"] = line[len("prefix="):]
        elif line.startswith("lib="):
            python["nvidia_lib_dirs"].append(line[len("lib="):])
    return found, python


def memcheck(res):
    """compute-sanitizer's verdict: its ERROR SUMMARY lines (one per process) and every error report's first line."""
    lines = read_lines(res, "memcheck.log")
    return {"summaries": [l.strip() for l in lines if "ERROR SUMMARY" in l],
            "errors": [l.strip() for l in lines if l.startswith("========= Invalid") or "is out of bounds" in l][:50]}


def block_ratios(blocks, torch_blocks):
    """Java time / PyTorch time for the same phase and token counts on this card (issue 5's target: <= 1.2 fwd+bwd)."""
    ratios = []
    for j in blocks:
        for t in torch_blocks:
            if t.get("phase") == "torch_" + j.get("phase", "") and \
                    (t.get("txt_tokens"), t.get("img_tokens")) == (j.get("txt_tokens"), j.get("img_tokens")):
                ratios.append({"phase": j["phase"], "txt_tokens": j["txt_tokens"], "img_tokens": j["img_tokens"],
                               "java_ms": j["ms"], "torch_ms": t["ms"], "ratio": round(j["ms"] / t["ms"], 3)})
    return ratios


# Transformer forward-equivalents per step averaged over a run (docs/erase.md, "Memory and time": paper mode 41 over
# 1000 steps, released mode 48 over 200), which turn the measured seconds per forward-equivalent into run times.
RUN_AVERAGES = {"paper_1000_steps": (1000, 41), "released_200_steps": (200, 48)}


def erase_projection(erase_model):
    """Seconds per transformer forward-equivalent over the measured erasure and preservation steps (the first step
    carries the one-time costs, so this errs slow), and the hours of a 1000-step paper and a 200-step released run at
    that rate; null until both steps ran."""
    steps = [l for l in erase_model if l.get("phase") in ("erase_step", "preservation_step")]
    fe = sum(l.get("forward_equivalents", 0) for l in steps)
    if len(steps) < 2 or fe <= 0:
        return None
    per = sum(l["seconds"] for l in steps) / fe
    out = {"forward_equivalents": fe, "s_per_forward_equivalent": round(per, 4),
           "peak_bytes": max((l.get("peak_bytes") or 0) for l in steps)}
    for name, (n, avg) in RUN_AVERAGES.items():
        out[name + "_h"] = round(n * avg * per / 3600, 3)
    return out


def outcome(steps, stopped, counts, stand_in):
    """(exit status, one line saying why)."""
    if stopped:
        return 2, "stopped early: " + stopped
    tests = [s for s in steps if s["step"] == "tests"]
    if not tests or tests[-1].get("exit") is None:
        return 2, "the GPU tests did not run: " + (tests[-1].get("skipped", "?") if tests else "the run ended before them")
    rc = tests[-1]["exit"]
    if stand_in:
        return rc, ("stand-in run, no GPU: the GPU tests' host side exit status %d%s; %d tests skipped their kernel "
                    "numbers (see tests.log)" % (rc, " (timed out)" if tests[-1].get("timed_out") else "",
                                                   counts["skipped"]))
    if rc == 0 and counts["skipped"] > 0:
        return 2, "%d GPU tests were skipped (no usable GPU or libraries?): see tests.log" % counts["skipped"]
    return rc, "GPU tests exit status %d%s" % (rc, " (timed out)" if tests[-1].get("timed_out") else "")


def main():
    res, target, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
    final = "--final" in sys.argv[4:]
    steps = json_lines(res, "steps.jsonl")
    stopped = "\n".join(read_lines(res, "stopped.txt")).strip() or None
    found, python = libraries(res)
    counts = {name: junit_counts(res, name) for name in ("tests", "timing", "memcheck")}
    blocks, torch_blocks = json_lines(res, "flux-blocks.log", "FLUX_TIMING "), json_lines(res, "torch_blocks.log")
    erase_model = json_lines(res, "erase-model.log", "ERASE_TIMING ")
    stand_in = any(s["step"] == "stand_in" for s in steps)
    status, why = outcome(steps, stopped, counts["tests"], stand_in)
    summary = {"exit": status, "outcome": why, "finished": final, "stopped": stopped, "stand_in": stand_in,
               "budget_s": budget, "steps": steps,
               "libraries": found, "python": python, "junit": counts,
               "bounds": bounds(res),
               "erase_tiny": [l.strip() for l in read_lines(res, "tests.log") if "CudaEraseTest " in l],
               "flux_model": json_lines(res, "flux-model.log", "FLUX_TIMING "), "flux_blocks": blocks,
               "erase_model": erase_model, "erase_projection": erase_projection(erase_model),
               "torch_blocks": torch_blocks, "block_ratios": block_ratios(blocks, torch_blocks),
               "timings": json_lines(res, "timing.log", "CUDA_TIMING "), "torch_baseline": json_lines(res, "torch_ops.log"),
               "memcheck": memcheck(res)}
    tmp = target + ".tmp"
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(tmp, target)
    if final:
        print(json.dumps({"libraries": found, "junit": counts, "closest_to_bound": summary["bounds"][:10]}, indent=1))
        print(json.dumps({"block_ratios": summary["block_ratios"], "flux_model": summary["flux_model"],
                          "erase_model": summary["erase_model"], "erase_projection": summary["erase_projection"],
                          "timings": summary["timings"], "torch_baseline": summary["torch_baseline"]}, indent=1))
        print("gpu-check: " + why)
        sys.exit(status)


if __name__ == "__main__":
    main()
