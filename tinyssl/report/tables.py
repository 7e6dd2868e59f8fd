"""Collect finished runs under a directory and aggregate them over seeds."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyssl.models import parse_quant_name
from tinyssl.report.fits import in_fit
from tinyssl.runs import read_json

#: Runs that differ only in these fields are seeds of one experiment.
GROUP_KEYS = ("data", "method", "model", "labels")


@dataclass
class RunRecord:
    path: Path
    summary: dict[str, Any]
    fpga: dict[str, Any] = field(default_factory=dict)
    verify: dict[str, Any] = field(default_factory=dict)

    def key(self) -> tuple[Any, ...]:
        """GROUP_KEYS' values; chosen labels (a selection rule, a labels file) are another
        experiment than random ones, so the method reads e.g. `supervised [typiclust]`."""
        key = {k: self.summary.get(k) for k in GROUP_KEYS}
        if self.summary.get("label_source", "random") != "random":
            key["method"] = f"{key['method']} [{self.summary['label_source']}]"
        return tuple(key.values())

    @property
    def bits(self) -> tuple[int, int] | None:
        parsed = parse_quant_name(str(self.summary.get("model", "")))
        return (parsed[1], parsed[2]) if parsed else None


def find_runs(root: Path) -> list[RunRecord]:
    """Every run directory below `root` that finished training (has summary.json), except
    the stages and trials of fit directories (report/fits.py shows those as fits)."""
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory of runs.")
    return [RunRecord(s.parent, read_json(s), read_json(s.parent / "fpga" / "report.json"),
                      read_json(s.parent / "verify.json"))
            for s in sorted(root.rglob("summary.json")) if not in_fit(s.parent, root)]


@dataclass
class Group:
    """One experiment: the same data/method/model/label budget over several seeds."""

    key: tuple[Any, ...]
    runs: list[RunRecord]

    def stat(self, metric: str) -> tuple[float, float]:
        vals = [r.summary[metric] for r in self.runs if r.summary.get(metric) is not None]
        if not vals:
            return float("nan"), float("nan")
        return float(np.mean(vals)), float(np.std(vals))

    def fpga_total(self, name: str) -> float | None:
        vals = [r.fpga.get("totals", {}).get(name) for r in self.runs if r.fpga]
        return vals[0] if vals else None

    def fpga_value(self, name: str) -> float | None:
        vals = [r.fpga.get(name) for r in self.runs if r.fpga]
        return vals[0] if vals else None


def group_runs(runs: list[RunRecord]) -> list[Group]:
    groups: dict[tuple[Any, ...], list[RunRecord]] = defaultdict(list)
    for run in runs:
        groups[run.key()].append(run)
    return [Group(k, v) for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))]


def mean_pm(mean: float, std: float, seeds: int, scale: float = 100.0) -> str:
    """mean ± std over seeds; one seed has no spread to show."""
    if np.isnan(mean):
        return "–"
    return f"{mean * scale:.1f}" + (f" ± {std * scale:.1f}" if seeds > 1 else "")


def results_table(groups: list[Group]) -> str:
    """Markdown: one row per experiment, accuracy and macro-F1 as mean ± std (%) over seeds."""
    head = ("| data | method | model | labels | seeds | test acc % | macro-F1 % | "
            "LUT | BRAM18 | DSP | est. FPS | verified |")
    lines = [head, "|" + "---|" * 12]
    for g in groups:
        data, method, model, labels = g.key
        verified = {r.verify.get("agree") for r in g.runs if r.verify}
        lines.append(
            f"| {data} | {method} | {model} | {labels} | {len(g.runs)} | "
            f"{mean_pm(*g.stat('test_acc'), len(g.runs))} | "
            f"{mean_pm(*g.stat('test_macro_f1'), len(g.runs))} | "
            f"{_fmt(g.fpga_total('LUT'))} | {_fmt(g.fpga_total('BRAM_18K'))} | "
            f"{_fmt(g.fpga_total('DSP'))} | {_fmt(g.fpga_value('est_fps'))} | "
            f"{'yes' if verified == {True} else ('NO' if False in verified else '–')} |"
        )
    return "\n".join(lines)


def result_warnings_section(groups: list[Group]) -> list[str]:
    """One line per experiment whose mean test accuracy is near chance or below the
    supervised baseline with the same data, model and labels (markdown list items)."""
    from tinyssl.train.verdict import result_warnings

    baselines = {(g.key[0], g.key[2], g.key[3]): g.stat("test_acc")[0] for g in groups
                 if g.key[1] == "supervised"}
    lines = []
    for g in groups:
        data, method, model, labels = g.key
        chance = [r.summary["chance_acc"] for r in g.runs if r.summary.get("chance_acc")]
        if not chance:
            continue
        base = baselines.get((data, model, labels)) if method != "supervised" else None
        for warning in result_warnings(g.stat("test_acc")[0], chance[0], baseline=base):
            lines.append(f"- {data} · {method} · {model} · {labels} labels: {warning}")
    return lines


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2f}"
