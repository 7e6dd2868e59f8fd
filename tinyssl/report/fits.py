"""Fit directories in a report: each fit is one experiment of several stages, not runs.

A fit's stage runs (baseline, teacher, float_init, student) and its trials are ordinary run
directories, but grouping them with the other runs would merge fit's baseline and float-init
stages into one "supervised, 2 seeds" row and quote a baseline that is not fit's. So the
report leaves every run inside a fit directory out of its experiments and shows each fit
with fit.md's own table, built from fit.json by the same code (pipeline/fit_report.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyssl.pipeline.fit_dir import FIT_FILE, is_fit_dir
from tinyssl.runs import read_json


@dataclass
class FitRecord:
    path: Path
    result: dict[str, Any]  # fit.json; {} while the fit has not finished


def find_fits(root: Path) -> list[FitRecord]:
    """Every fit directory at or below `root`."""
    dirs = sorted({p.parent for p in root.rglob(FIT_FILE)} | ({root} if is_fit_dir(root)
                                                               else set()))
    return [FitRecord(d, read_json(d / "fit.json")) for d in dirs]


def in_fit(run: Path, root: Path) -> bool:
    """True when `run` lies inside a fit directory at or below `root` (a stage or a trial)."""
    return any(is_fit_dir(p) for p in [run, *run.parents] if p == root or root in p.parents)


def fits_section(fits: list[FitRecord]) -> list[str]:
    """Markdown: each fit's stage table and verdict, numbers exactly fit.md's."""
    from tinyssl.pipeline.fit_report import fit_title, gain_sentence, stage_table

    lines = ["## Fits", "", "Each fit's stages as its fit.md reports them (the stage runs are "
             "not counted among the experiments above).", ""]
    for fit in fits:
        r = fit.result
        if not r:
            lines += [f"### {fit.path.name}: not finished", "",
                      f"Continue it with `tinyssl fit --resume {fit.path}`.", ""]
            continue
        lines += [f"### {fit.path.name}: {fit_title(r)}", "", *stage_table(r), ""]
        if r.get("gain_over_baseline") is not None:
            lines += [gain_sentence(r["gain_over_baseline"]), ""]
        lines += [f"Labelled images used: {r['labels_used']}; details in "
                  f"{fit.path / 'fit.md'}.", ""]
    return lines
