"""The report's figures (matplotlib, headless). Each function writes one PNG and returns it."""

from __future__ import annotations

import io
import textwrap
from collections import defaultdict
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinyssl.report.tables import Group, RunRecord  # noqa: E402
from tinyssl.runs import atomic_write_bytes, read_jsonl  # noqa: E402


def _save(fig: plt.Figure, out: Path) -> Path:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, dpi=110, format="png")
    plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())
    return out


def heatmap(matrix: np.ndarray, rows: list[str], cols: list[str], title: str, out: Path,
            xlabel: str = "", ylabel: str = "", fmt: str = "{:.0f}") -> Path:
    """Annotated heat-map: confusion matrices and the transfer matrix."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(cols), 1.0 + 0.5 * len(rows)))
    im = ax.imshow(matrix, cmap="viridis")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    # wrapped to the figure's width: a run directory name is longer than a small matrix
    ax.set_title(textwrap.fill(title, max(20, int(12 * fig.get_figwidth()))), fontsize=9)
    finite = matrix[np.isfinite(matrix)]
    mid = (finite.max() + finite.min()) / 2 if finite.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            if np.isfinite(matrix[i, j]):
                ax.text(j, i, fmt.format(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="black" if matrix[i, j] > mid else "white")
    fig.colorbar(im, ax=ax)
    return _save(fig, out)


def label_efficiency(groups: list[Group], out: Path) -> Path | None:
    """Test accuracy vs number of labels, one line per (data, model, method)."""
    lines: dict[tuple, list[tuple[int, float, float]]] = defaultdict(list)
    for g in groups:
        data, method, model, labels = g.key
        if labels is not None:
            lines[(data, model, method)].append((int(labels), *g.stat("test_acc")))
    lines = {k: sorted(v) for k, v in lines.items() if len(v) >= 2}
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for (data, model, method), pts in sorted(lines.items()):
        x, m, s = map(np.array, zip(*pts, strict=True))
        ax.errorbar(x, 100 * m, yerr=100 * s, marker="o", capsize=3,
                    label=f"{method} ({data}, {model})")
    ax.set(xscale="log", xlabel="labelled images", ylabel="test accuracy (%)",
           title="Label efficiency")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out)


def accuracy_vs_bits(groups: list[Group], out: Path) -> Path | None:
    """Test accuracy vs weight/activation bit width, one line per (data, method, labels)."""
    lines: dict[tuple, list[tuple[int, float, float]]] = defaultdict(list)
    for g in groups:
        bits = g.runs[0].bits
        if bits:
            data, method, _, labels = g.key
            lines[(data, method, labels)].append((bits[1], *g.stat("test_acc")))
    lines = {k: sorted(v) for k, v in lines.items() if len({p[0] for p in v}) >= 2}
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for (data, method, labels), pts in sorted(lines.items(), key=str):
        x, m, s = map(np.array, zip(*pts, strict=True))
        ax.errorbar(x, 100 * m, yerr=100 * s, marker="o", capsize=3,
                    label=f"{method}, {labels} labels ({data})")
    ax.set(xscale="log", xlabel="activation bits (weights alike in the presets)",
           ylabel="test accuracy (%)", title="Accuracy vs bit width")
    ax.set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out)


def pareto(groups: list[Group], out: Path) -> Path | None:
    """Accuracy vs estimated LUTs and FPS; the Pareto front (fewest LUTs for the accuracy)."""
    pts = [(g.fpga_total("LUT"), g.fpga_value("est_fps"), g.stat("test_acc")[0], g)
           for g in groups if g.fpga_total("LUT") is not None]
    if not pts:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for lut, fps, acc, g in pts:
        label = f"{g.key[1]} {g.key[2]} ({g.key[3]})"
        a1.scatter(lut, 100 * acc, label=label)
        if fps:
            a2.scatter(fps, 100 * acc)
    front, best = [], -1.0
    for lut, _, acc, _ in sorted(pts, key=lambda p: (p[0], -p[2])):
        if acc > best:
            front.append((lut, acc))
            best = acc
    fx, fy = zip(*front, strict=True)
    a1.step(fx, 100 * np.array(fy), where="post", color="k", alpha=0.5, label="Pareto front")
    a1.set(xlabel="estimated LUTs", ylabel="test accuracy (%)", title="Accuracy vs FPGA cost")
    a2.set(xlabel="estimated FPS", ylabel="test accuracy (%)", xscale="log",
           title="Accuracy vs throughput")
    a1.legend(fontsize=6)
    for a in (a1, a2):
        a.grid(alpha=0.3)
    return _save(fig, out)


def training_curves(runs: list[RunRecord], out: Path) -> Path | None:
    """Training loss and validation accuracy against step for every run."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    drawn = False
    for run in runs:
        recs = read_jsonl(run.path / "metrics.jsonl")
        s = run.summary
        label = f"{s.get('method')} {s.get('labels')} s{s.get('seed')}"
        loss = [(r["step"], r["loss"]) for r in recs if "loss" in r and "step" in r]
        val = [(r["step"], r["val_acc"]) for r in recs if "val_acc" in r and "step" in r]
        if loss:
            a1.plot(*zip(*loss, strict=True), alpha=0.7, label=label)
            drawn = True
        if val:
            x, y = zip(*val, strict=True)
            a2.plot(x, 100 * np.array(y), marker=".", alpha=0.7, label=label)
    if not drawn:
        plt.close(fig)
        return None
    a1.set(xlabel="step", ylabel="training loss", yscale="log", title="Training loss")
    a2.set(xlabel="step", ylabel="validation accuracy (%)", title="Validation accuracy")
    a2.legend(fontsize=6)
    for a in (a1, a2):
        a.grid(alpha=0.3)
    return _save(fig, out)


def pseudo_label_growth(run: RunRecord, classes: list[str], out: Path) -> Path | None:
    """Images added per class by pseudo-label growth, and how many of them were wrong."""
    events = read_jsonl(run.path / "pseudolabels.jsonl")
    if not events:
        return None
    added = np.sum([np.asarray(e["added"], dtype=float) for e in events], axis=0)
    wrong = np.sum([np.asarray(e.get("wrong") or np.zeros_like(added), dtype=float)
                    for e in events], axis=0)
    names = classes if len(classes) == len(added) else [str(i) for i in range(len(added))]
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(names)), 3.5))
    ax.bar(names, added - wrong, label="correct")
    ax.bar(names, wrong, bottom=added - wrong, color="tab:red", label="wrong")
    ax.set(ylabel="images added", title=f"Pseudo-labels added per class ({run.path.name})")
    ax.tick_params(axis="x", rotation=45)
    ax.legend()
    return _save(fig, out)
