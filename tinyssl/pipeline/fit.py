"""`tinyssl fit`: the best recipe we know for a quantized network from few labels, end to end.

    supervised baseline (quantized, labels only)            ─ what the labels alone give
    [SimCLR pre-training of the teacher]                    ─ optional
    float teacher: the family's float twin, FixMatch        ─ uses every unlabelled image
    float-init student: quantized, from the twin, labels    ─ what the float start alone gives
    distilled student: quantized, from the twin, distilled  ─ the network that ships
    export → FINN estimates → bit-exact verification of the distilled student
    fit.json / fit.md: each stage's accuracy and what it gained over the one before

Every stage is an ordinary run directory inside the fit directory, so `--resume FIT_DIR`
continues an interrupted fit (finished stages are kept, an interrupted one resumes from its
checkpoint) — which is also how a long GPU fit runs in chunks. The label budget is honest:
every stage trains on all the labels and none is held out for validation; the knobs the user
leaves open are decided by short trials on the budget alone (pipeline/fit_decisions.py), the
student stops early on its agreement with the teacher on held-out unlabelled images, and the
supervised stages get the student's maximum step count.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tinyssl.config import LOGGERS, DataChoice, TrainConfig, load_config, read_options
from tinyssl.pipeline.fit_dir import FIT_FILE
from tinyssl.runs import atomic_write_bytes, new_run_dir, read_json

#: Options only the methods with a strong view accept (kept away from supervised stages).
STRONG_VIEW_OPTIONS = ("randaugment_n", "randaugment_m", "randaugment_policy", "cutout")
STAGES = ("baseline", "pretrain", "teacher", "float_init", "student")
#: What the teacher may train with: it needs labels, and its logits are what the student
#: distils (a pretext method has no classifier; distill needs a teacher of its own).
TEACHER_METHODS = ("fixmatch", "uda", "flexmatch", "freematch", "pseudolabel", "supervised")
#: The options `--resume` may change: they decide what is built from the student and how
#: progress shows, not what any stage trained.
RESUME_OPTIONS = ("board", "target_fps", "hardware", "progress")


@dataclass
class FitConfig(DataChoice):
    """What `tinyssl fit` needs; everything else has a default that we measured. The data
    and label fields (DataChoice) are TrainConfig's, handed to every stage."""

    # every label trains and none is held out for validation (the honest budget,
    # docs/training.md): the one DataChoice field fit does not take from the user
    val_per_class: int = 0
    selection_rounds: int = 1  # > 1: the teacher picks the later rounds by its uncertainty
    model: str = "tiny-w2a2"
    # None below: fit decides (pipeline/fit_decisions.py), or with auto off takes the default
    teacher_model: str | None = None  # the student family's float twin, or a wider one
    width_mult: float = 1.0
    steps: int | None = None  # the student's most steps (2000; it stops early), baselines'
    teacher_steps: int | None = None  # teacher_scale × steps (÷ a wider teacher's cost)
    # results/teacher-length.md (pool labels, not test): 3 × the 1.5 of results/fit.md
    teacher_scale: float = 4.5
    pretrain_steps: int | None = None  # > 0: SimCLR-initialise the teacher first
    auto: bool = True  # decide the open knobs by trials on the label budget
    trial_steps: int = 300  # steps of each teacher trial (student trials: half)
    batch_size: int = 32
    unlabeled_ratio: float = 3.0
    teacher_method: str | None = None  # fixmatch (measured best for float twins), or uda
    temperature: float | None = None  # default 2
    # Stages that start from the float teacher fine-tune, so they default to a third of the
    # quantized presets' from-scratch 0.3 (pbc64-25 student: 74.9 % at 0.3, results/fit-1k.md;
    # 77.5 % at 0.1, results/fit-lr01.md, same teachers).
    student_lr: float | None = None
    method_options: dict[str, Any] = field(default_factory=dict)  # flip, strong-view options
    baseline: bool = True
    float_init_ablation: bool = True
    board: str = "Pynq-Z1"
    target_fps: float = 10000.0
    verify_images: int = 100
    hardware: bool = True  # export → FINN estimates → verify
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    log: str = "tensorboard"  # every stage's, and fit's own summary in the fit directory

    @classmethod
    def load(cls, path: Path | None, overrides: dict[str, Any]) -> FitConfig:
        cfg = cls(**read_options(path, overrides, list(cls.__dataclass_fields__), "fit"))
        cfg.check()
        return cfg

    def check(self) -> None:
        """Every option's range and name, without torch or data (a second, not a stage of
        training later); `check_fit` adds the data and the stages' own configs."""
        from tinyssl.fpga.options import check_build_options, max_fps
        from tinyssl.models import check_image_size, check_model, parse_quant_name

        check_model(self.model, "student model")
        if parse_quant_name(self.model) is None:
            raise ValueError(f"fit needs a quantized student preset such as tiny-w2a2 (got "
                             f"'{self.model}'): only those go to the FPGA.")
        if self.teacher_model is not None:
            check_model(self.teacher_model, "teacher model")
        self.default_image_size()
        for model in (self.model, self.teacher_model):
            check_image_size(model or self.model, self.image_size)
        if self.log not in LOGGERS:
            raise ValueError(f"unknown log '{self.log}'; choose from {', '.join(LOGGERS)}.")
        if self.teacher_method is not None and self.teacher_method not in TEACHER_METHODS:
            raise ValueError(f"unknown teacher_method '{self.teacher_method}'; choose from "
                             f"{', '.join(TEACHER_METHODS)}.")
        if self.val_per_class != 0:
            raise ValueError("fit validates inside its label budget (no extra labelled "
                             f"images): val_per_class must be 0 (got {self.val_per_class}).")
        for name, least in (("steps", 1), ("teacher_steps", 1), ("pretrain_steps", 0),
                            ("trial_steps", 2), ("batch_size", 1), ("selection_rounds", 1),
                            ("verify_images", 1), ("labels", 1), ("labels_per_class", 1)):
            value = getattr(self, name)
            if value is not None and value < least:
                raise ValueError(f"{name} must be at least {least} (got {value})"
                                 + (": 0 turns pre-training off." if least == 0 else "."))
        for name in ("teacher_scale", "width_mult", "unlabeled_ratio", "temperature",
                     "student_lr"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive (got {value}).")
        check_build_options(self.board, self.target_fps)
        if self.target_fps > max_fps(10.0):
            raise ValueError(f"target_fps {self.target_fps:g} cannot be reached: a FINN "
                             "accelerator at 100 MHz finishes at most one image per clock "
                             f"cycle ({max_fps(10.0):,.0f} FPS).")
        if self.selection_rounds > 1 and self.selection == "random":
            raise ValueError("selection_rounds needs a selection rule for the first round, "
                             "e.g. --selection typicover.")
        if self.labels is None and self.labels_per_class is None and self.labels_file is None:
            raise ValueError("fit is for few labels: give --labels, --labels-per-class or "
                             "--labels-file.")

    def stage_options(self, steps: int) -> dict[str, Any]:
        """What every stage's (and trial's) TrainConfig starts from, for `steps` steps."""
        return {**self.data_choice(), "width_mult": self.width_mult, "steps": steps,
                "batch_size": self.batch_size, "unlabeled_ratio": self.unlabeled_ratio,
                "eval_every": max(25, steps // 20), "seed": self.seed, "device": self.device,
                "progress": self.progress, "log": self.log}


@dataclass
class Stage:
    name: str
    train: TrainConfig
    purpose: str


def _supervised_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in STRONG_VIEW_OPTIONS}


def plan(cfg: FitConfig, fit_dir: Path) -> list[Stage]:
    """The stages, in order, with their training configs (open knobs at their defaults until
    `fit_decisions.resolved` fills them in). Stage run directories are `fit_dir/<stage>`,
    which is how later stages find the teacher."""
    from tinyssl.models import family_of
    from tinyssl.pipeline.fit_decisions import (
        DEFAULT_STUDENT_LR,
        DEFAULT_TEMPERATURE,
        HOLDOUT_UNLABELED,
        STUDENT_PATIENCE,
    )
    from tinyssl.select.rounds import ROUNDS_LABELS_FILE

    steps = cfg.steps or 2000
    teacher_steps = cfg.teacher_steps or max(1, round(cfg.teacher_scale * steps))
    sup = _supervised_options(cfg.method_options)
    teacher_dir = str(fit_dir / "teacher")
    teacher_model = cfg.teacher_model or f"{family_of(cfg.model)}-float"
    twin = family_of(teacher_model) == family_of(cfg.model)
    student_lr = cfg.student_lr or DEFAULT_STUDENT_LR
    stages: list[Stage] = []

    def add(name: str, purpose: str, **extra: Any) -> None:
        s = extra.pop("steps", steps)
        stages.append(Stage(name, load_config(None, {**cfg.stage_options(s), "name": name,
                                                     **extra}), purpose))

    # Labelling rounds happen in the teacher, whose network picks the later rounds; every
    # quantized stage then trains on the teacher's whole labelled set, so all see the same
    # labels (the baseline therefore runs after the teacher).
    rounds = cfg.selection_rounds > 1
    teacher_labels = {"labels": None, "labels_per_class": None, "selection": "random",
                      "labels_file": str(fit_dir / "teacher" / ROUNDS_LABELS_FILE)
                      } if rounds else {}

    def add_baseline() -> None:
        add("baseline", "supervised on the labels only (quantized)", model=cfg.model,
            method="supervised", method_options=sup, **teacher_labels)

    if cfg.baseline and not rounds:
        add_baseline()
    if cfg.pretrain_steps:
        add("pretrain", "SimCLR pre-training of the teacher on every image",
            model=teacher_model, method="simclr", steps=cfg.pretrain_steps,
            labels=None, labels_per_class=None, labels_file=None, selection="random",
            method_options={})
    method = cfg.teacher_method or "fixmatch"
    add("teacher", f"float teacher, {method} on labels + unlabelled images",
        model=teacher_model, method=method, steps=teacher_steps,
        method_options=dict(cfg.method_options), selection_rounds=cfg.selection_rounds,
        init=str(fit_dir / "pretrain") if cfg.pretrain_steps else None)
    if cfg.baseline and rounds:
        add_baseline()
    if cfg.float_init_ablation and twin:
        add("float_init", "quantized, initialised from the float teacher, labels only",
            model=cfg.model, method="supervised", method_options=sup, init=teacher_dir,
            lr=student_lr, **teacher_labels)
    add("student", "quantized, initialised from the teacher, distilled on every image",
        model=cfg.model, method="distill", init=teacher_dir if twin else None,
        lr=student_lr if twin else None, **teacher_labels,
        holdout_unlabeled=HOLDOUT_UNLABELED, early_stop_patience=STUDENT_PATIENCE,
        method_options={**cfg.method_options, "teacher": teacher_dir,
                        "temperature": cfg.temperature or DEFAULT_TEMPERATURE})
    return stages


def _stage_dir(fit_dir: Path, name: str) -> Path:
    """Stage runs live at a fixed path (not time-stamped) so that later stages, and
    `--resume`, can name them."""
    return fit_dir / name


def data_facts(cfg: FitConfig) -> tuple[tuple[int, int, int], int]:
    """(image shape H×W×C, number of classes), after checking the label budget or labels
    file against the data, before any stage runs."""
    from tinyssl.data import load_dataset, make_split, require_classes

    bundle = load_dataset(cfg.data, image_size=cfg.image_size, resize=cfg.resize)
    require_classes(bundle)
    if cfg.labels_file is not None:
        from tinyssl.data.labels_file import read_labels_file

        read_labels_file(cfg.labels_file, bundle)
    else:  # a random draw checks the budget; a selection picks the same number of images
        make_split(bundle, bundle.num_classes, labels=cfg.labels,
                   labels_per_class=cfg.labels_per_class, val_per_class=0, seed=cfg.seed)
    return bundle.image_shape, bundle.num_classes


def check_fit(cfg: FitConfig, fit_dir: Path) -> tuple[tuple[int, int, int], int]:
    """Everything `fit` can refuse, before any directory exists or any step trains: the
    options (FitConfig.check), the data and label budget, then every stage's own config
    (methods and their `-o` options: the one check that imports torch). Returns data_facts."""
    cfg.check()
    facts = data_facts(cfg)
    plan(cfg, fit_dir)
    return facts


def estimate_seconds(cfg: FitConfig, stages: list[Stage], image_shape: tuple[int, int, int],
                     num_classes: int) -> dict[str, float]:
    """Seconds per stage, from timing three real training steps of each stage's method and
    model on random images of the data's shape (export/FINN/verify not included)."""
    from tinyssl.train.timing import seconds_per_step

    teacher = next(s.train.model for s in stages if s.name == "teacher")
    return {s.name: s.train.steps * seconds_per_step(s.train, image_shape, num_classes,
                                                      teacher_model=teacher)
            for s in stages}


def run_fit(cfg: FitConfig, fit_dir: Path, echo: Any = print,
            facts: tuple[tuple[int, int, int], int] | None = None) -> dict[str, Any]:
    """Decide the open knobs (trials), run (or continue) every stage in `fit_dir`; write
    fit.json and fit.md; return the result dictionary. `facts`: check_fit's, when the caller
    has checked already."""
    from tinyssl.pipeline import run_training
    from tinyssl.pipeline.fit_decisions import (
        decide_student,
        decide_teacher,
        resolved,
        trial_seconds,
    )
    from tinyssl.train import TrainingInterrupted

    shape, classes = facts or check_fit(cfg, fit_dir)
    estimate = estimate_seconds(cfg, plan(cfg, fit_dir), shape, classes)
    trials = trial_seconds(cfg, plan(cfg, fit_dir), estimate) if cfg.auto else 0.0
    echo(f"fit into {fit_dir}: about {(sum(estimate.values()) + trials) / 60:.1f} min of "
         f"training on this machine (trials ≈ {trials / 60:.1f} min, then " + ", ".join(
             f"{name} ≈ {sec / 60:.1f} min" for name, sec in estimate.items()) + ")"
         + (", then export, FINN estimates and verification" if cfg.hardware else "") + "."
         + (" That is over 30 min: this machine is busy or slow, or the images are large; "
            "--steps and --trial-steps shorten it." if sum(estimate.values()) + trials > 1800
            else ""))
    started = time.perf_counter()
    decisions = decide_teacher(cfg, fit_dir, echo)
    stages = plan(resolved(cfg, decisions), fit_dir)
    for i, stage in enumerate(stages):
        if stage.name == "student":
            decisions = decide_student(cfg, fit_dir, decisions, stage.train, echo)
            stages[i] = stage = plan(resolved(cfg, decisions), fit_dir)[-1]
        run = _stage_dir(fit_dir, stage.name)
        if (run / "summary.json").is_file():
            echo(f"{stage.name}: done before, kept ({run}).")
            continue
        echo(f"{stage.name}: {stage.purpose} — {stage.train.model}, {stage.train.method}, "
             f"{stage.train.steps} steps.")
        if not (run / "config.yaml").is_file():
            run.mkdir(parents=True)
            stage.train.save(run / "config.yaml")
        elif (saved := load_config(run / "config.yaml", {})).progress != cfg.progress:
            saved.progress = cfg.progress  # `--resume --no-progress`: no effect on training
            saved.save(run / "config.yaml")
        try:
            run_training(stage.train, fit_dir, resume=run)
        except TrainingInterrupted as e:
            raise TrainingInterrupted(e.run, e.step, f" Continue the whole fit with `tinyssl "
                                      f"fit --resume {e.run.parent}`.") from None
    student = _stage_dir(fit_dir, "student")
    if cfg.hardware:
        _hardware(cfg, student, echo)
    from tinyssl.pipeline.fit_report import fit_events, fit_markdown, summarize

    result = summarize(cfg, fit_dir, stages, estimate, time.perf_counter() - started)
    result["decisions"] = asdict(decisions)
    result["warnings"] = decisions.warnings + result["warnings"]
    atomic_write_bytes(fit_dir / "fit.json", json.dumps(result, indent=2).encode())
    atomic_write_bytes(fit_dir / "fit.md", fit_markdown(result).encode())
    if cfg.log == "tensorboard":
        fit_events(result)
    return result


def _hardware(cfg: FitConfig, student: Path, echo: Any) -> None:
    from tinyssl.export import export_run
    from tinyssl.fpga import build_run, resolve_board
    from tinyssl.verify import verify_run

    built = read_json(student / "fpga" / "report.json")
    if (built.get("board"), built.get("target_fps")) != (resolve_board(cfg.board).name,
                                                         cfg.target_fps):
        echo(f"student: export → FINN estimates for {cfg.board} at {cfg.target_fps:g} FPS.")
        export_run(student)
        build_run(student, board=cfg.board, target_fps=cfg.target_fps)
    if not (student / "verify.json").is_file():
        echo(f"student: bit-exact verification on {cfg.verify_images} test images.")
        verify_run(student, images=cfg.verify_images)


def prepare_fit(cfg: FitConfig | None, runs_root: Path, resume: Path | None,
                overrides: dict[str, Any] | None = None
                ) -> tuple[FitConfig, Path, tuple[tuple[int, int, int], int]]:
    """Check everything, then make the new fit directory (config saved first) or take the one
    to resume: its own config with `overrides` of the RESUME_OPTIONS, saved back to fit.yaml.
    A refused fit leaves no directory behind. → (config, fit directory, check_fit's facts)."""
    if resume is not None:
        if not (resume / FIT_FILE).is_file():
            raise ValueError(f"{resume} is not a fit directory (no {FIT_FILE}).")
        changed = {k: v for k, v in (overrides or {}).items() if v is not None}
        if refused := [k for k in changed if k not in RESUME_OPTIONS]:
            flags = ", ".join("--" + k.replace("_", "-") for k in refused)
            allowed = ", ".join("--" + k.replace("_", "-") for k in RESUME_OPTIONS)
            raise ValueError(f"--resume keeps what {resume} trained: {flags} would change it; "
                             f"only {allowed} (and --threads) may be given with --resume.")
        cfg = FitConfig.load(resume / FIT_FILE, changed)
        facts = check_fit(cfg, resume)
        if changed:
            save_fit_config(cfg, resume)
        return cfg, resume, facts
    assert cfg is not None
    facts = check_fit(cfg, runs_root / "fit")  # stage paths only: nothing is created
    data = Path(cfg.data.split(":", 1)[-1]).name.split(".")[0] if ":" in cfg.data else cfg.data
    fit_dir = new_run_dir(runs_root, f"fit-{data}-{cfg.model}-s{cfg.seed}")
    save_fit_config(cfg, fit_dir)
    return cfg, fit_dir, facts


def start_fit(cfg: FitConfig | None, runs_root: Path, resume: Path | None,
              echo: Any = print, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """prepare_fit, then run_fit."""
    cfg, fit_dir, facts = prepare_fit(cfg, runs_root, resume, overrides)
    return run_fit(cfg, fit_dir, echo, facts)


def save_fit_config(cfg: FitConfig, fit_dir: Path) -> None:
    """fit.yaml: what `--resume` reads back."""
    atomic_write_bytes(fit_dir / FIT_FILE, yaml.safe_dump(asdict(cfg), sort_keys=False).encode())
