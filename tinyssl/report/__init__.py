"""`tinyssl report RUNS_DIR`: markdown tables and PNG plots from finished run directories."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from tinyssl.report import plots
from tinyssl.report.fits import find_fits, fits_section
from tinyssl.report.tables import (
    Group,
    find_runs,
    group_runs,
    result_warnings_section,
    results_table,
)
from tinyssl.runs import atomic_write_bytes

#: How many per-run figures (confusion matrices, pseudo-label growth) a report shows at most.
MAX_RUN_FIGURES = 8


def _aggregate_csv(groups: list[Group]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["data", "method", "model", "labels", "seeds", "test_acc_mean", "test_acc_std",
                "macro_f1_mean", "macro_f1_std", "lut", "bram_18k", "dsp", "est_fps"])
    for g in groups:
        w.writerow([*g.key, len(g.runs), *g.stat("test_acc"), *g.stat("test_macro_f1"),
                    g.fpga_total("LUT"), g.fpga_total("BRAM_18K"), g.fpga_total("DSP"),
                    g.fpga_value("est_fps")])
    return buf.getvalue()


def _transfer_section(root: Path, out: Path) -> list[str]:
    """Include every transfer matrix (`transfer_matrix.csv`, rows = pre-training source)."""
    lines: list[str] = []
    for path in sorted(root.rglob("transfer_matrix.csv")):
        with open(path) as f:
            table = list(csv.reader(f))
        cols, rows = table[0][1:], [r[0] for r in table[1:]]
        matrix = np.array([[float(v) if v else np.nan for v in r[1:]] for r in table[1:]])
        png = plots.heatmap(100 * matrix, rows, cols, "Transfer: test accuracy (%)",
                            out / f"transfer-{len(lines)}.png", xlabel="fine-tuned on",
                            ylabel="pre-trained on", fmt="{:.1f}")
        lines += [f"### Transfer matrix ({path.parent.name})", "", f"![transfer]({png.name})", ""]
    return lines


def write_report(root: Path, out: Path | None = None) -> Path:
    """Write `report.md` (+ `summary.csv`, PNGs) into `out` (default: `root`)."""
    runs, fits = find_runs(root), find_fits(root)
    out = out or root
    out.mkdir(parents=True, exist_ok=True)
    groups = group_runs(runs)
    md = [f"# tinyssl report: {root}", "",
          f"{len(runs)} finished runs in {len(groups)} experiments"
          + (f", and {len(fits)} fit(s) (section Fits)" if fits else "")
          + "; accuracy and macro-F1 are mean ± std over seeds on the test set (EMA weights, "
          "best validation checkpoint).", "", results_table(groups), ""]
    if fits:
        md += fits_section(fits)
    if warnings := result_warnings_section(groups):
        md += ["## Warnings", "", *warnings, ""]
    atomic_write_bytes(out / "summary.csv", _aggregate_csv(groups).encode())
    figures = [
        ("Label efficiency", plots.label_efficiency(groups, out / "label_efficiency.png")),
        ("Accuracy vs bit width", plots.accuracy_vs_bits(groups, out / "accuracy_vs_bits.png")),
        ("Accuracy vs FPGA resources and FPS", plots.pareto(groups, out / "pareto.png")),
        ("Training curves", plots.training_curves(runs, out / "training_curves.png")),
    ]
    for title, png in figures:
        if png is not None:
            md += [f"## {title}", "", f"![{title}]({png.name})", ""]
    md += _transfer_section(root, out)
    shown = 0
    for run in runs:
        if shown >= MAX_RUN_FIGURES:
            break
        classes = run.summary.get("classes") or []
        cm = run.summary.get("confusion_matrix")
        name = run.path.name
        if cm is not None:
            labels = classes or [str(i) for i in range(len(cm))]
            png = plots.heatmap(np.asarray(cm, dtype=float), labels, labels,
                                f"Confusion matrix: {name}", out / f"confusion-{name}.png",
                                xlabel="predicted", ylabel="true")
            md += [f"## Confusion matrix: {name}", "", f"![confusion]({png.name})", ""]
            shown += 1
        png = plots.pseudo_label_growth(run, classes, out / f"pseudolabels-{name}.png")
        if png is not None:
            md += [f"## Pseudo-label growth: {name}", "", f"![pseudo-labels]({png.name})", ""]
            shown += 1
    report = out / "report.md"
    atomic_write_bytes(report, "\n".join(md).encode())
    return report


__all__ = ["write_report"]
