"""fit.json and fit.md: each stage's accuracy, what it gained over the one before, the
labelled images the whole fit used, the student's hardware numbers, the decisions fit took
and warnings where a result is poor."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyssl.runs import read_json
from tinyssl.train.verdict import result_warnings

if TYPE_CHECKING:
    from tinyssl.pipeline.fit import FitConfig, Stage


def summarize(cfg: FitConfig, fit_dir: Path, stages: list[Stage], estimate: dict[str, float],
              wall_s: float) -> dict[str, Any]:
    """Each stage's test accuracy, macro-F1, time and gain; the student's hardware numbers;
    one-sentence warnings where a result is poor."""
    rows = []
    for stage in stages:
        s = read_json(fit_dir / stage.name / "summary.json")
        rows.append({"stage": stage.name, "purpose": stage.purpose, "model": stage.train.model,
                     "method": stage.train.method, "steps": stage.train.steps,
                     "test_acc": s.get("test_acc"), "test_macro_f1": s.get("test_macro_f1"),
                     "train_time_s": s.get("train_time_s"), "chance_acc": s.get("chance_acc"),
                     "estimated_s": estimate.get(stage.name),
                     "labels_used": s.get("labels_used"),
                     "stopped_early_at": s.get("stopped_early_at")})
    by = {r["stage"]: r for r in rows}
    base = by.get("baseline", {}).get("test_acc")
    student = fit_dir / "student"
    s_acc, chance = by["student"]["test_acc"], by["student"]["chance_acc"]
    warnings = result_warnings(s_acc, chance or 0.0, baseline=base)
    teacher = by["teacher"]["test_acc"]
    if teacher is not None and s_acc is not None and s_acc < teacher - 0.03:
        warnings.append(f"the quantized student ({100 * s_acc:.1f} %) is more than 3 points "
                        f"below its float teacher ({100 * teacher:.1f} %): train the student "
                        "longer (--steps) or use more bits.")
    fpga, verify = read_json(student / "fpga" / "report.json"), read_json(student / "verify.json")
    return {"config": asdict(cfg), "fit_dir": str(fit_dir), "stages": rows,
            "labels_used": labels_used(fit_dir),
            "gain_over_baseline": None if base is None or s_acc is None else s_acc - base,
            "fpga": {k: fpga.get(k) for k in ("board", "est_fps", "fits", "totals")} if fpga
            else None,
            "verify": {k: verify.get(k) for k in ("agree", "quant_test_acc", "images")}
            if verify else None,
            "warnings": warnings, "wall_s": wall_s}


def fit_events(r: dict[str, Any]) -> None:
    """fit.md's numbers as TensorBoard scalars and its table as text, in the fit directory
    (the stages' own curves are in their run directories below it); a resumed fit's
    rewrite replaces them."""
    from tinyssl.train.callbacks.tensorboard import write_events

    scalars = {f"{key}/{row['stage']}": row[key] for row in r["stages"]
               for key in ("test_acc", "test_macro_f1") if row[key] is not None}
    base = _baseline_acc(r)
    scalars.update({f"gain_over_baseline/{row['stage']}": row["test_acc"] - base
                    for row in r["stages"] if base is not None and row["test_acc"] is not None
                    and row["stage"] != "baseline"})
    write_events(Path(r["fit_dir"]), scalars, {"fit": fit_markdown(r)})


def _baseline_acc(r: dict[str, Any]) -> float | None:
    return next((row["test_acc"] for row in r["stages"] if row["stage"] == "baseline"), None)


def labels_used(fit_dir: Path) -> int:
    """Every labelled image any stage or trial of the fit touched (training and validation),
    counted from their split.npz files (a label-free run such as SimCLR touches none);
    labelling rounds: the teacher's whole labelled set."""
    from tinyssl.config import load_config
    from tinyssl.data.types import Split
    from tinyssl.methods import get_method

    used: set[int] = set()
    for path in fit_dir.glob("**/split.npz"):
        if not get_method(load_config(path.parent / "config.yaml", {}).method).uses_labeled:
            continue
        split = Split.load(path)
        used.update(split.labeled.tolist())
        used.update(split.val.tolist())
    rounds = read_json(fit_dir / "teacher" / "summary.json").get("labels_used", 0)
    return max(len(used), rounds)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


#: fit.md's stage table columns (also what `tinyssl report` shows of a fit).
STAGE_COLUMNS = ("stage", "what", "model", "steps", "test acc %", "macro-F1 %",
                 "vs baseline (points)", "train min")


def stage_rows(r: dict[str, Any]) -> list[list[str]]:
    """STAGE_COLUMNS' cells, one row per stage, as fit.md prints them."""
    rows = []
    base = _baseline_acc(r)
    for row in r["stages"]:
        acc = row["test_acc"]
        gain = ("" if base is None or acc is None or row["stage"] == "baseline"
                else f"{100 * (acc - base):+.1f}")
        minutes = "–" if row["train_time_s"] is None else f"{row['train_time_s'] / 60:.1f}"
        rows.append([row["stage"], row["purpose"], row["model"], str(row["steps"]), _pct(acc),
                     _pct(row["test_macro_f1"]), gain, minutes])
    return rows


def stage_table(r: dict[str, Any]) -> list[str]:
    """fit.md's table (markdown lines)."""
    return ["| " + " | ".join(STAGE_COLUMNS) + " |", "|" + " --- |" * len(STAGE_COLUMNS),
            *("| " + " | ".join(cells) + " |" for cells in stage_rows(r))]


def gain_sentence(gain: float) -> str:
    """'gains 3.2 points', 'loses 7.8 points' (never 'gains -7.8'), or 'matches'."""
    points = round(100 * gain, 1)
    verb = ("matches" if points == 0 else f"gains {points:.1f} points over" if points > 0
            else f"loses {-points:.1f} points against")
    return f"The distilled student {verb} the supervised baseline on the same labels."


def fit_title(r: dict[str, Any]) -> str:
    """'digits, 4 per class labels, tiny-w2a2'."""
    cfg = r["config"]
    labels = (f"{cfg['labels_per_class']} per class" if cfg["labels_per_class"]
              else f"{cfg['labels']}")
    return f"{cfg['data']}, {labels} labels, {cfg['model']}"


def fit_markdown(r: dict[str, Any]) -> str:
    lines = [f"# tinyssl fit: {fit_title(r)}", "",
             f"Labelled images used, training and validation together: {r['labels_used']}.",
             "", *stage_table(r)]
    if r["gain_over_baseline"] is not None:
        lines += ["", gain_sentence(r["gain_over_baseline"])]
    if r["fpga"]:
        f = r["fpga"]
        totals = f.get("totals") or {}
        lines += ["", f"FPGA ({f['board']}): {totals.get('LUT', 0):,.0f} LUT, "
                      f"{totals.get('BRAM_18K', 0):,.0f} BRAM_18K, {totals.get('DSP', 0):,.0f} "
                      f"DSP, {f['est_fps']:,.0f} images/s estimated; fits: {f['fits']}."]
    if r["verify"]:
        v = r["verify"]
        lines += ["", f"Bit-exact verification on {v['images']} images: "
                      f"{'all stages agree' if v['agree'] else 'DISAGREEMENT'}; onnxruntime "
                      f"(QCDQ) test accuracy {_pct(v['quant_test_acc'])} %."]
    if r.get("decisions"):
        from tinyssl.pipeline.fit_decisions import decisions_markdown

        lines += ["", *decisions_markdown(r["decisions"])]
    for w in r["warnings"]:
        lines += ["", f"**Warning:** {w}"]
    return "\n".join(lines) + "\n"
