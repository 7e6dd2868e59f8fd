"""The choices `tinyssl fit` makes itself, from the data, never from test labels.

A customer's data set is one nobody here has seen, so the knobs that the shared sets used to
set by hand (augmentation, teacher, schedule, student lr, temperature) are decided by short
trials inside the fit, on the label budget alone:

- **Fold trials (labelled).** The K labels per class are split once: `fold_holdout(K)` of
  each class score, the rest train (K = 10: 7 + 3; K = 4: 3 + 1). Short float-teacher runs
  on that fold decide, one knob at a time (the current choice is kept unless a challenger
  beats it by more than one validation image): horizontal flips, RandAugment policy
  (full / mild), the teacher's method (FixMatch / UDA), a wider teacher (at equal compute,
  and by a larger margin since the student then cannot start from the teacher's weights),
  SimCLR initialisation (its label-free pre-training run is the final one, so it is not
  wasted). With 1 label per class there is nothing to hold out: these knobs keep their
  defaults, and fit says so. The teacher's length is not a fold decision any more: a 300-step
  trial's early validation peak said nothing about the final teacher, which was 3–4 points
  worse at half length on three of four development sets and never worse at three times it
  (results/teacher-length.md: unlabelled-pool labels, not test).
- **Student trials (label-free).** After the teacher, short distillation runs score the
  student's agreement with the teacher on held-out *unlabelled* images (no label needed, so
  this works at 1 label per class too) and pick the student lr, then the temperature.
- **Final stages** train on all K labels; no labelled image is held out, so the teacher keeps
  its last (EMA) weights and the student stops early on, and keeps its best checkpoint by,
  the same teacher agreement.

Every trial is an ordinary run directory under FIT_DIR/trials (resumable); what was decided
and from which scores goes to FIT_DIR/decisions.json, fit.json and fit.md. Step counts are
fixed numbers, not measured times, so a fit decides the same on any machine.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyssl.runs import atomic_write_bytes

if TYPE_CHECKING:
    from tinyssl.data.types import DataBundle, Split
    from tinyssl.pipeline.fit import FitConfig

DECISIONS_FILE = "decisions.json"
#: Seconds per FixMatch step relative to tiny-float (32 px, batch 32 + 96, 1 thread, this
#: machine: 0.72 / 1.45 / 5.4 s under load): wider teachers get fewer steps for equal compute.
TEACHER_COST = {"tiny-float": 1.0, "small-float": 2.0, "cnv-float": 7.5}
#: The wider teacher tried beside the student family's float twin (the teacher is not
#: shipped, so it need not fit the FPGA; cnv-float costs 7.5× and is not tried on CPU).
WIDER_TEACHER = {"tiny-float": "small-float"}
#: A wider teacher must win by this much on the fold (accuracy, absolute) as well as by more
#: than one image: the student then trains from scratch instead of from the teacher's weights.
WIDER_MARGIN = 0.05
DEFAULT_VIEWS = {"flip": False, "randaugment_policy": "full"}  # the methods' own defaults
DEFAULT_STUDENT_LR = 0.1  # fine-tuning from the float twin: a third of the presets' 0.3
DEFAULT_TEMPERATURE = 2.0
PRETRAIN_SCALE = 2  # SimCLR steps per trial step (600 by default): the init trial's run,
# reused as the final teacher's initialisation when it wins
HOLDOUT_UNLABELED = 512  # unlabelled images kept out of student training for its score
STUDENT_PATIENCE = 5  # evaluations without better teacher agreement before the student stops
TRIAL_PATIENCE = 4


@dataclass
class Decisions:
    """What fit chose (`choices`, FitConfig field → value), one sentence per decision
    (`log`), every trial's score (`trials`) and warnings from the trials."""

    choices: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    trials: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fold: dict[str, int] = field(default_factory=dict)
    phase: str = "none"  # "teacher" once the teacher knobs are decided, then "student"

    def save(self, fit_dir: Path) -> None:
        atomic_write_bytes(fit_dir / DECISIONS_FILE, json.dumps(asdict(self), indent=2).encode())

    @classmethod
    def load(cls, fit_dir: Path) -> Decisions:
        path = fit_dir / DECISIONS_FILE
        return cls(**json.loads(path.read_text())) if path.is_file() else cls()


def fold_holdout(k: int) -> int:
    """Labelled images per class the fold trials score on: a third of K, none below K = 2."""
    return 0 if k < 2 else max(1, round(k / 3))


def trial_split(bundle: DataBundle, split: Split, seed: int) -> Split | None:
    """The fold: `fold_holdout` of each class's labelled images validate, the rest train;
    every other image stays unlabelled. None when a class has a single label."""
    from tinyssl.data.splits import split_around

    y = bundle.train.y[split.labeled] if split.labeled_y is None else split.labeled_y
    counts = np.bincount(y, minlength=bundle.num_classes)
    h = fold_holdout(int(counts.min()))
    if h == 0:
        return None
    rng = np.random.default_rng([seed, 0xF01D])
    val = np.concatenate([rng.permutation(split.labeled[y == c])[:h]
                          for c in range(bundle.num_classes)])
    keep = ~np.isin(split.labeled, val)
    return split_around(len(bundle.train), split.labeled[keep], val, "fit-fold",
                        None if split.labeled_y is None else split.labeled_y[keep])


def smoothed_best(values: list[float], window: int = 3) -> float:
    """Best moving average of the validation curve: one lucky evaluation on a handful of
    images does not win a decision."""
    if not values:
        return float("nan")
    w = min(window, len(values))
    return max(float(np.mean(values[i:i + w])) for i in range(len(values) - w + 1))


class Trials:
    """Runs (or reads back) the short trials of one fit; each is a run directory."""

    def __init__(self, cfg: FitConfig, fit_dir: Path, decisions: Decisions, echo: Any) -> None:
        self.cfg, self.fit_dir, self.d, self.echo = cfg, fit_dir, decisions, echo
        self.root = fit_dir / "trials"

    def run(self, name: str, decision: str, split: Split | None, holdout: int = 0,
            **train: Any) -> dict[str, Any]:
        """One trial: `train` overrides the fit's base options. Score: the smoothed best of
        the validation curve (fold accuracy, or the label-free holdout score)."""
        from tinyssl.config import load_config
        from tinyssl.pipeline import run_training
        from tinyssl.runs import read_json

        steps = train.pop("steps")
        cfg = load_config(None, {**self.cfg.stage_options(steps), "name": name, "progress": False,
                                 "eval_every": max(1, steps // 10), "val_per_class": 0,
                                 "early_stop_patience": TRIAL_PATIENCE,
                                 "holdout_unlabeled": holdout, **train})
        run = self.root / name
        if not (run / "summary.json").is_file():
            self.echo(f"trial {name}: {cfg.model}, {cfg.method}, up to {steps} steps.")
            if not (run / "config.yaml").is_file():
                run.mkdir(parents=True)
                cfg.save(run / "config.yaml")
                if split is not None:
                    split.save(run / "split.npz")
            run_training(cfg, self.root, resume=run)
        curve = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
                 if r.get("val_acc") is not None and not math.isnan(r["val_acc"])]
        summary = read_json(run / "summary.json")
        score = smoothed_best([r["val_acc"] for r in curve])
        best_step = curve[int(np.argmax([r["val_acc"] for r in curve]))]["step"] if curve else 0
        row = {"trial": name, "decision": decision, "model": cfg.model, "method": cfg.method,
               "steps": steps, "ran": summary["steps"], "best_step": best_step,
               "stopped_early": summary.get("stopped_early_at") is not None,
               "score": score, "options": {k: v for k, v in cfg.method_options.items()
                                           if k != "teacher"}, "lr": cfg.lr}
        if all(t["trial"] != name for t in self.d.trials):
            self.d.trials.append(row)
        return row


def _beats(challenger: float, incumbent: float, n_val: int, margin: float = 0.0) -> bool:
    """More than one validation image better (and by `margin`)."""
    return challenger > incumbent + max(1.0 / max(n_val, 1), margin) - 1e-9


def _labelled_split(cfg: FitConfig, bundle: DataBundle) -> Split:
    """The labels every final stage trains on (a random draw, a selection's first round or a
    labels file), with no validation images: the whole budget."""
    from tinyssl.config import load_config
    from tinyssl.select import config_split
    from tinyssl.train.setup import _new_split

    tcfg = load_config(None, {**cfg.stage_options(1), "model": cfg.model, "val_per_class": 0,
                              "selection_rounds": cfg.selection_rounds,
                              "steps": max(1, cfg.selection_rounds)})
    return _new_split(tcfg.validate(), bundle, None, config_split)


def decide_teacher(cfg: FitConfig, fit_dir: Path, echo: Any = print) -> Decisions:
    """The teacher-side knobs the user left open: views, teacher model, SimCLR init, teacher
    length, from fold trials (nothing when cfg.auto is off or a class has one label)."""
    from tinyssl.data import load_dataset
    from tinyssl.models import family_of

    d = Decisions.load(fit_dir)
    if d.phase in ("teacher", "student"):
        return d
    twin = f"{family_of(cfg.model)}-float"
    views = {k: cfg.method_options.get(k, v) for k, v in DEFAULT_VIEWS.items()}
    model = cfg.teacher_model or twin
    method = cfg.teacher_method or "fixmatch"
    pretrain = cfg.pretrain_steps or 0
    steps = cfg.steps or 2000
    bundle = load_dataset(cfg.data, image_size=cfg.image_size, resize=cfg.resize)
    split = _labelled_split(cfg, bundle) if cfg.auto else None
    fold = None if split is None else trial_split(split.apply_labels(bundle), split, cfg.seed)
    trial_steps = cfg.trial_steps
    if fold is not None:
        d.fold = {"train": len(fold.labeled), "val": len(fold.val)}
        n_val = len(fold.val)
        t = Trials(cfg, fit_dir, d, echo)
        echo(f"decisions: fold trials on {len(fold.labeled)} labels, scored on {n_val} "
             f"held-out labels ({trial_steps} steps each).")

        def teacher_trial(name: str, decision: str, m: str = model,
                          v: dict[str, Any] | None = None, init: str | None = None,
                          meth: str | None = None) -> dict[str, Any]:
            n = max(1, round(trial_steps / TEACHER_COST.get(m, 1.0)))
            return t.run(name, decision, fold, steps=n, model=m, method=meth or method,
                         method_options={**cfg.method_options, **(v or views)}, init=init)

        best = teacher_trial("teacher-default", "incumbent")
        if "flip" not in cfg.method_options:
            arm = teacher_trial("views-flip", "flip", v={**views, "flip": True})
            keep = _beats(arm["score"], best["score"], n_val)
            d.log.append(_sentence("horizontal flips", keep, arm, best))
            if keep:
                views, best = {**views, "flip": True}, arm
        if "randaugment_policy" not in cfg.method_options:
            arm = teacher_trial(f"views-mild-flip{int(views['flip'])}", "policy",
                                v={**views, "randaugment_policy": "mild"})
            keep = _beats(arm["score"], best["score"], n_val)
            d.log.append(_sentence("the mild RandAugment policy", keep, arm, best))
            if keep:
                views, best = {**views, "randaugment_policy": "mild"}, arm
        if cfg.teacher_method is None:
            arm = teacher_trial("teacher-uda", "teacher method", meth="uda")
            keep = _beats(arm["score"], best["score"], n_val)
            d.log.append(_sentence("UDA instead of FixMatch for the teacher", keep, arm, best))
            if keep:
                method, best = "uda", arm
        if cfg.teacher_model is None and (wide := WIDER_TEACHER.get(model)):
            arm = teacher_trial(f"teacher-{wide}", "teacher size", m=wide)
            keep = _beats(arm["score"], best["score"], n_val, WIDER_MARGIN)
            d.log.append(_sentence(f"the wider teacher {wide} (equal compute, "
                                   f"{WIDER_MARGIN:.0%} margin)", keep, arm, best))
            if keep:
                model, best = wide, arm
        if cfg.pretrain_steps is None:
            pre = _pretrain(cfg, fit_dir, model, echo)
            arm = teacher_trial(f"teacher-simclr-{model}", "SimCLR init", m=model,
                                init=str(pre))
            keep = _beats(arm["score"], best["score"], n_val)
            d.log.append(_sentence(f"SimCLR initialisation ({pretrain_steps(cfg)} steps)",
                                   keep, arm, best))
            if keep:
                pretrain, best = pretrain_steps(cfg), arm
        d.choices["fold_val_acc"] = best["score"]
        d.warnings += _near_chance_warnings(best["score"], bundle, split, "teacher")
    elif cfg.auto:
        d.log.append("1 label per class in some class: nothing to hold out, so views, teacher "
                     "method and model and SimCLR init keep their defaults; student lr and "
                     "temperature are still chosen without labels.")
    d.warnings += resolution_notes(cfg, bundle, fold, fit_dir, echo, d)
    teacher_units = cfg.teacher_scale * steps
    d.choices.update(
        method_options={**cfg.method_options, **views}, teacher_model=model,
        teacher_method=method,
        pretrain_steps=pretrain, steps=steps,
        teacher_steps=cfg.teacher_steps or max(1, round(teacher_units
                                                        / TEACHER_COST.get(model, 1.0))))
    d.phase = "teacher"
    d.save(fit_dir)
    for line in d.log:
        echo(f"decided: {line}")
    for line in d.warnings:
        echo(f"note: {line}")
    return d


def _sentence(what: str, keep: bool, arm: dict[str, Any], best: dict[str, Any]) -> str:
    return (f"{what}: {'yes' if keep else 'no'} (fold validation {100 * arm['score']:.1f} % "
            f"vs {100 * best['score']:.1f} % for {best['trial']}).")


def pretrain_steps(cfg: FitConfig) -> int:
    return PRETRAIN_SCALE * cfg.trial_steps


def _pretrain(cfg: FitConfig, fit_dir: Path, model: str, echo: Any) -> Path:
    """The SimCLR run (label-free) the init trial starts from; it is fit's own `pretrain`
    stage, so a teacher that keeps the init reuses it."""
    from tinyssl.config import load_config
    from tinyssl.pipeline import run_training

    run = fit_dir / "pretrain"
    if not (run / "summary.json").is_file():
        echo(f"trial pretrain: SimCLR on every image, {model}, {pretrain_steps(cfg)} steps.")
        pcfg = load_config(None, {**cfg.stage_options(pretrain_steps(cfg)), "name": "pretrain",
                                  "model": model, "method": "simclr", "labels": None,
                                  "labels_per_class": None, "labels_file": None,
                                  "selection": "random", "method_options": {}})
        if not (run / "config.yaml").is_file():
            run.mkdir(parents=True)
            pcfg.save(run / "config.yaml")
        run_training(pcfg, fit_dir, resume=run)
    return run


def _near_chance_warnings(acc: float, bundle: DataBundle, split: Split, who: str) -> list[str]:
    from tinyssl.train.verdict import chance_accuracy, near_chance

    y = bundle.train.y[split.labeled] if split.labeled_y is None else split.labeled_y
    chance = chance_accuracy(y, bundle.num_classes)
    if math.isnan(acc) or not near_chance(acc, chance):
        return []
    return [f"the {who}'s fold validation accuracy {100 * acc:.1f} % is near chance "
            f"({100 * chance:.1f} %): these labels may be too few or too noisy for this data, "
            "or the images too small (--image-size)."]


def resolution_notes(cfg: FitConfig, bundle: DataBundle, fold: Split | None, fit_dir: Path,
                     echo: Any, d: Decisions) -> list[str]:
    """When the source images are at least twice --image-size: what the resolution costs,
    from a short supervised fold check at both sizes when there is a fold."""
    from tinyssl.data import load_dataset
    from tinyssl.models import family_of

    side = source_side(cfg)
    size = bundle.image_shape[0]
    if side is None or side < 2 * size:
        return []
    bigger = min(side, 2 * size)
    text = (f"the source images are {side} px and train at {size} px (--image-size): "
            f"details finer than {side / size:.1f} source pixels are lost")
    if fold is not None:
        big = load_dataset(cfg.data, image_size=bigger, resize=cfg.resize)
        if len(big.train) == len(bundle.train):
            t = Trials(cfg, fit_dir, d, echo)
            n = max(1, cfg.trial_steps // 2)
            scores = [t.run(f"resolution-{s}", "resolution", fold, steps=n, image_size=s,
                            model=f"{family_of(cfg.model)}-float", method="supervised",
                            method_options={})["score"] for s in (size, bigger)]
            text += (f"; a short supervised fold check scores {100 * scores[0]:.1f} % at "
                     f"{size} px and {100 * scores[1]:.1f} % at {bigger} px")
    return [text + f". A step at {bigger} px costs about {(bigger / size) ** 2:.0f}× as "
            f"much; if the FPGA and the time allow, try --image-size {bigger}."]


def source_side(cfg: FitConfig) -> int | None:
    """The side of the source's images at their own size (None if they cannot be loaded
    so, e.g. mixed sizes)."""
    from tinyssl.data import load_dataset
    from tinyssl.data.types import DataError

    try:
        return int(load_dataset(cfg.data, image_size=None, resize=cfg.resize).image_shape[0])
    except (DataError, ValueError):
        return None


def decide_student(cfg: FitConfig, fit_dir: Path, d: Decisions, student_cfg: Any,
                   echo: Any = print) -> Decisions:
    """Student lr, then temperature, by short distillation trials scored on agreement with
    the teacher on held-out unlabelled images (no labels). `student_cfg`: the planned
    student stage's TrainConfig, whose options the trials share."""
    if d.phase == "student":
        return d
    lr = cfg.student_lr if cfg.student_lr is not None else student_cfg.lr
    temperature = cfg.temperature if cfg.temperature is not None else DEFAULT_TEMPERATURE
    if cfg.auto and (cfg.student_lr is None or cfg.temperature is None):
        t = Trials(cfg, fit_dir, d, echo)
        n = max(1, cfg.trial_steps // 2)
        base = {"model": student_cfg.model, "method": "distill", "init": student_cfg.init,
                "labels": student_cfg.labels, "labels_per_class": student_cfg.labels_per_class,
                "labels_file": student_cfg.labels_file, "selection": student_cfg.selection}

        def trial(lr_: float, temp: float) -> dict[str, Any]:
            opts = {**student_cfg.method_options, "temperature": temp}
            return t.run(f"student-lr{lr_:g}-T{temp:g}", "student", None, HOLDOUT_UNLABELED,
                         steps=n, lr=lr_, method_options=opts, **base)

        best = trial(lr, temperature)
        if cfg.student_lr is None and student_cfg.init:  # from scratch: the preset's lr
            for cand in (lr / 3, lr * 3):
                arm = trial(cand, temperature)
                if arm["score"] > best["score"] + 0.01:
                    best, lr = arm, cand
            d.log.append(f"student lr {lr:g} (held-out teacher agreement: " + ", ".join(
                f"{r['lr']:g} → {100 * r['score']:.1f} %" for r in d.trials
                if r["decision"] == "student" and r["options"]["temperature"] == temperature)
                + ").")
        if cfg.temperature is None:
            chosen = temperature
            for cand in (1.0, 4.0):
                arm = trial(lr, cand)
                if arm["score"] > best["score"] + 0.01:
                    best, chosen = arm, cand
            d.log.append(f"distillation temperature {chosen:g} (held-out teacher agreement: "
                         + ", ".join(f"T {r['options']['temperature']:g} → "
                                     f"{100 * r['score']:.1f} %" for r in d.trials
                                     if r["decision"] == "student" and r["lr"] == lr) + ").")
            temperature = chosen
        if best["score"] < 0.5:
            d.warnings.append(f"the student agrees with its teacher on only "
                              f"{100 * best['score']:.1f} % of held-out unlabelled images in "
                              "its trials: it may end near chance; try more steps or bits.")
        echo("decided: " + " ".join(d.log[-2:]))
    d.choices.update(temperature=temperature, **({"student_lr": lr} if student_cfg.init
                                                 else {}))
    d.phase = "student"
    d.save(fit_dir)
    return d


def resolved(cfg: FitConfig, d: Decisions) -> FitConfig:
    """The fit config with every decision filled in."""
    return replace(cfg, **{k: v for k, v in d.choices.items()
                           if k in cfg.__dataclass_fields__})


def trial_seconds(cfg: FitConfig, stages: list[Any], estimate: dict[str, float]) -> float:
    """Seconds the trials will take at most, from the planned stages' measured step times:
    up to six teacher trials (a wider one at equal compute), the SimCLR run, the
    resolution check and up to five student trials of half the length."""
    per = {s.name: estimate[s.name] / max(1, s.train.steps) for s in stages}
    teacher = (6 + PRETRAIN_SCALE / 4) * cfg.trial_steps * per["teacher"]  # SimCLR: ~¼ step
    return teacher + cfg.trial_steps * per["baseline" if "baseline" in per else "student"] \
        + 5 * cfg.trial_steps / 2 * per["student"]


def decisions_markdown(d: dict[str, Any]) -> list[str]:
    """The "Decisions" section of fit.md: each decision in a sentence, then every trial."""
    lines = ["## Decisions", "", "Made inside fit from the label budget (fold trials) or from "
             "unlabelled images (student trials); never from test labels." + (
                 f" Fold: {d['fold']['train']} training and {d['fold']['val']} validation "
                 "labels, all from the budget." if d.get("fold") else ""), ""]
    lines += [f"- {line}" for line in d["log"]]
    if d["trials"]:
        lines += ["", "| trial | decides | model | steps (ran) | score % | best at step |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {t['trial']} | {t['decision']} | {t['model']} | {t['steps']} "
                  f"({t['ran']}) | {100 * t['score']:.1f} | {t['best_step']} |"
                  for t in d["trials"]]
        lines += ["", "Score: fold validation accuracy for the teacher and resolution trials, "
                      "agreement with the teacher on held-out unlabelled images for the "
                      "student trials (best 3-evaluation moving average)."]
    return lines
