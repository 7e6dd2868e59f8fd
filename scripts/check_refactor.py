"""Proof that a refactor changed no behaviour: the same CLI runs, the same files, bit for bit.

    python scripts/check_refactor.py run OUT [--old-runs DIR]   # every command below → OUT
    python scripts/check_refactor.py hash OUT                   # rehash OUT's files
    python scripts/check_refactor.py compare BEFORE AFTER       # hashes equal, or the diffs

`run` trains every method on digits (seed 0, `--threads 1`, CPU), pseudo-label growth,
labelling rounds, a pretrain + probe, a small `tinyssl fit`, and the extension of a run to
more steps from its `last.pt`. With `--old-runs DIR` (the OUT of an earlier `run`), that
extension resumes from the *earlier code's* `last.pt`, so a match proves an old checkpoint
resumes exactly. Every file is then hashed into OUT/hashes.json after normalising what is
wall-clock (fields below) or names a time-stamped directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Wall-clock fields: measured seconds and what is computed from them; `estimated_s` is
#: fit's timed estimate of each stage. Dropped before hashing.
TIME_FIELDS = {"train_time_s", "train_cpu_s", "images_per_s", "time_to_target_s", "wall_s",
               "estimated_s"}
STAMP = re.compile(r"-\d{8}-\d{6}(-\d+)?")
SMALL = ["--data", "digits", "--steps", "30", "--eval-every", "10", "--batch-size", "16",
         "--seed", "0", "--device", "cpu", "--no-progress", "--threads", "1"]
LABELLED = ["supervised", "uda", "fixmatch", "flexmatch", "freematch", "pseudolabel"]
#: colorization needs colour images (digits are grey: it refuses them, exit 2)
PRETEXT = ["simclr", "rotation", "byol", "simsiam", "jigsaw", "autoencoder", "inpainting"]


def tinyssl(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    cmd = [sys.executable, "-m", "tinyssl.cli", *args]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)


def only_run(root: Path) -> Path:
    (run,) = [p for p in root.iterdir() if p.is_dir()]
    return run


def train(out: Path, name: str, *args: str) -> Path:
    """One run into OUT/name/ (kept when a rerun of `run` finds it finished)."""
    if not list((out / name).glob("*/summary.json")):
        shutil.rmtree(out / name, ignore_errors=True)
        tinyssl("train", "--runs", str(out / name), "--name", name, *SMALL, *args)
    return only_run(out / name)


def pretrain_and_probe(out: Path) -> None:
    if not list((out / "pretrain").glob("*/probe*.json")):
        shutil.rmtree(out / "pretrain", ignore_errors=True)
        tinyssl("pretrain", "--runs", str(out / "pretrain"), "--name", "pretrain", "--data",
                "digits", "--steps", "30", "--eval-every", "10", "--seed", "0", "--device",
                "cpu", "--no-progress", "--threads", "1")
        tinyssl("probe", str(only_run(out / "pretrain")), "--data", "digits",
                "--labels-per-class", "5", "--device", "cpu")


def fit(out: Path) -> None:
    if not list((out / "fit").glob("*/fit.json")):
        shutil.rmtree(out / "fit", ignore_errors=True)
        tinyssl("fit", "--runs", str(out / "fit"), "--data", "digits", "--labels-per-class",
                "3", "--steps", "20", "--teacher-steps", "30", "--no-hardware", "--seed", "0",
                "--device", "cpu", "--no-progress", "--threads", "1")


def run_all(out: Path, old_runs: Path | None) -> None:
    for m in LABELLED:
        train(out, m, "--method", m, "--labels-per-class", "3")
    teacher = only_run(out / "supervised")
    train(out, "distill", "--method", "distill", "--labels-per-class", "3",
          "-o", f"teacher={teacher}")
    for m in PRETEXT:
        train(out, m, "--method", m)
    train(out, "uda-pl", "--method", "uda", "--labels-per-class", "3", "--pseudo-label",
          "--pl-target", "0", "--pl-every", "5", "--pl-threshold", "0.1", "--pl-max", "20")
    train(out, "rounds", "--method", "supervised", "--labels-per-class", "3",
          "--selection", "uniform", "--selection-rounds", "3")
    pretrain_and_probe(out)
    fit(out)
    # the extension of a 30-step run to 50 steps, from last.pt (an earlier code's with --old-runs)
    if old_runs is None:
        base = train(out, "extend", "--method", "uda", "--labels-per-class", "3",
                     "--pseudo-label", "--pl-target", "0", "--pl-every", "5",
                     "--pl-threshold", "0.1")
        shutil.copytree(base, out / "extend-source" / base.name)
    else:
        while not (old_runs / "hashes.json").is_file():  # the earlier `run` still going
            time.sleep(10)
        src = only_run(old_runs / "extend-source")
        shutil.copytree(src, out / "extend-source" / src.name)
        base = out / "extend" / src.name
        shutil.copytree(src, base)
    tinyssl("train", "--resume", str(base), "--steps", "50", "--threads", "1")
    write_hashes(out)


def write_hashes(out: Path) -> None:
    # TensorBoard event files are named by time, host and process and hold wall-clock
    # stamps; they repeat metrics.jsonl and summary.json, which are hashed
    hashes = {str(p.relative_to(out)): digest(p, out) for p in sorted(out.rglob("*"))
              if p.is_file() and "extend-source" not in p.parts and p.name != "hashes.json"
              and not p.name.startswith("events.out.tfevents.")}
    (out / "hashes.json").write_text(json.dumps(hashes, indent=1))


def _clean(value: Any, root: str) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v, root) for k, v in value.items() if k not in TIME_FIELDS}
    if isinstance(value, list | tuple):
        return [_clean(v, root) for v in value]
    if isinstance(value, str):
        return STAMP.sub("-STAMP", value.replace(root, "ROOT"))
    if hasattr(value, "detach"):  # a tensor
        value = value.detach().cpu().contiguous().numpy()
    if isinstance(value, np.ndarray):  # its exact bytes
        return f"{value.dtype}{value.shape}" + hashlib.sha256(value.tobytes()).hexdigest()
    if isinstance(value, float | int | bool) or value is None:
        return value
    return repr(value)


def digest(path: Path, out: Path) -> str:
    """sha256 of the file's content, wall-clock fields and directory stamps normalised."""
    root = str(out)
    if path.suffix == ".pt":
        import torch

        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        # content, not key order: the trainer appends its callbacks' keys after its own
        text = json.dumps(_clean(ckpt, root), sort_keys=True, default=repr)
    elif path.suffix in (".json", ".jsonl"):
        lines = path.read_text().splitlines()
        text = "\n".join(json.dumps(_clean(json.loads(line), root))
                         for line in lines if line.strip()) if path.suffix == ".jsonl" \
            else json.dumps(_clean(json.loads(path.read_text()), root))  # key order counts
        if path.name == "env.json":
            text = "env"  # versions and host, not behaviour
    elif path.suffix == ".npz":
        with np.load(path) as z:
            text = json.dumps({k: _clean(z[k], root) for k in sorted(z.files)})
    elif path.suffix in (".yaml", ".md", ".csv", ".txt"):
        text = path.read_text().replace(root, "ROOT")
        text = STAMP.sub("-STAMP", text)
        if path.name == "fit.md":  # its "train min" column is wall-clock
            text = "\n".join("|".join(line.split("|")[:-2]) if line.startswith("| ") else line
                             for line in text.splitlines())
    else:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return hashlib.sha256(text.encode()).hexdigest()


def compare(before: Path, after: Path) -> int:
    a = json.loads((before / "hashes.json").read_text())
    b = json.loads((after / "hashes.json").read_text())
    keys_a = {STAMP.sub("-STAMP", k): v for k, v in a.items()}
    keys_b = {STAMP.sub("-STAMP", k): v for k, v in b.items()}
    bad = sorted(k for k in keys_a.keys() | keys_b.keys() if keys_a.get(k) != keys_b.get(k))
    for k in bad:
        print(f"DIFFERS: {k}  {keys_a.get(k, 'missing')[:12]}  {keys_b.get(k, 'missing')[:12]}")
    print(f"{len(keys_a.keys() & keys_b.keys()) - len(bad)} of {len(keys_a)} files identical; "
          f"{len(bad)} differ.")
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--old-runs", type=Path)
    h = sub.add_parser("hash", help="(re)write OUT/hashes.json from OUT's files")
    h.add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = p.parse_args()
    if args.cmd == "compare":
        return compare(args.before, args.after)
    if args.cmd == "hash":
        write_hashes(args.out.resolve())
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    run_all(args.out.resolve(), args.old_runs.resolve() if args.old_runs else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
