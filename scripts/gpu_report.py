"""Images/s and accuracy per stage of the GPU check's fit (see gpu_check.sh) → JSON + stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tinyssl.runs import read_json


def main(root: Path, out: Path) -> None:
    fit_dir = next(root.glob("fit-*"))
    rows = {}
    for summary in sorted(fit_dir.glob("*/summary.json")):
        s, env = read_json(summary), read_json(summary.parent / "env.json")
        rows[summary.parent.name] = {
            "model": s["model"], "method": s["method"], "steps": s["steps"],
            "images_per_s": round(s["images_per_s"]), "train_time_s": round(s["train_time_s"]),
            "test_acc": s["test_acc"], "device": env.get("cuda")}
        print(f"{summary.parent.name:>10}: {s['model']:>10} {s['method']:>10} "
              f"{s['images_per_s']:>9,.0f} images/s  test {100 * (s['test_acc'] or 0):.1f} %")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"fit_dir": str(fit_dir), "stages": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
