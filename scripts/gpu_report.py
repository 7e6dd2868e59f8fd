"""Images/s and accuracy per stage of the GPU check's fit (see gpu_check.sh) → JSON + stdout.

A stage cut short by the check's time limit has no summary yet: its last metrics row
(step, images/s, validation accuracy) is reported instead, marked unfinished."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from tinyssl.runs import read_json


def stage_row(stage: Path) -> dict | None:
    env = read_json(stage / "env.json") if (stage / "env.json").exists() else {}
    if (stage / "summary.json").exists():
        s = read_json(stage / "summary.json")
        return {"model": s["model"], "method": s["method"], "steps": s["steps"],
                "images_per_s": round(s["images_per_s"]),
                "train_time_s": round(s["train_time_s"]), "test_acc": s["test_acc"],
                "device": env.get("cuda"), "finished": True}
    rows = (stage / "metrics.jsonl").read_text().splitlines() if (
        stage / "metrics.jsonl").exists() else []
    if not rows:
        return None
    last, config = json.loads(rows[-1]), yaml.safe_load((stage / "config.yaml").read_text())
    return {"model": config["model"], "method": config["method"], "steps": last["step"],
            "images_per_s": round(last["images_per_s"]),
            "train_time_s": round(last["train_time_s"]), "val_acc": last.get("val_acc"),
            "device": env.get("cuda"), "finished": False}


def main(root: Path, out: Path) -> None:
    fit_dir = next(root.glob("fit-*"))
    rows = {}
    for stage in sorted(p for p in fit_dir.iterdir() if p.is_dir()):
        if (row := stage_row(stage)) is None:
            continue
        rows[stage.name] = row
        acc = row.get("test_acc") if row["finished"] else row.get("val_acc")
        print(f"{stage.name:>10}: {row['model']:>10} {row['method']:>10} {row['steps']:>6} steps "
              f"{row['images_per_s']:>9,} images/s  {'test' if row['finished'] else 'val'} "
              f"{100 * (acc or 0):.1f} %{'' if row['finished'] else '  (unfinished)'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"fit_dir": str(fit_dir), "stages": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
