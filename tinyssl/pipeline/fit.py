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
checkpoint) — which is also how a long GPU fit runs in chunks. Schedules are sized from the
data: `epochs` passes over the unlabelled pool at the unlabelled batch size, never fewer than
`min_steps`; the supervised stages get the student's step count, so every quantized number
in the table had the same schedule.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tinyssl.config import LOGGERS, DataChoice, TrainConfig, load_config, read_options
from tinyssl.runs import atomic_write_bytes, new_run_dir

#: Options only the methods with a strong view accept (kept away from supervised stages).
STRONG_VIEW_OPTIONS = ("randaugment_n", "randaugment_m", "randaugment_policy", "cutout")
STAGES = ("baseline", "pretrain", "teacher", "float_init", "student")
FIT_FILE = "fit.yaml"


@dataclass
class FitConfig(DataChoice):
    """What `tinyssl fit` needs; everything else has a default that we measured. The data
    and label fields (DataChoice) are TrainConfig's, handed to every stage."""

    selection_rounds: int = 1  # > 1: the teacher picks the later rounds by its uncertainty
    model: str = "tiny-w2a2"
    teacher_model: str | None = None  # default: the student family's float twin
    width_mult: float = 1.0
    epochs: float = 15.0
    min_steps: int = 500
    steps: int | None = None  # overrides the data-sized schedule (student and baselines)
    teacher_steps: int | None = None  # default: teacher_scale × the student's
    teacher_scale: float = 3.0  # a float step costs about half a distillation step
    pretrain_steps: int = 0  # > 0: SimCLR-initialise the teacher first
    batch_size: int = 32
    unlabeled_ratio: float = 3.0
    teacher_method: str = "fixmatch"  # measured best for float twins: see docs/training.md
    temperature: float = 2.0
    # Stages that start from the float teacher fine-tune, so they take a third of the
    # quantized presets' from-scratch 0.3 (pbc64-25 student: 74.9 % at 0.3, results/fit-1k.md;
    # 77.5 % at 0.1, results/fit-lr01.md, same teachers); None: the model's default.
    student_lr: float | None = 0.1
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
        from tinyssl.models import family_of, parse_quant_name

        if parse_quant_name(self.model) is None:
            raise ValueError(f"fit needs a quantized student preset such as tiny-w2a2 (got "
                             f"'{self.model}'): only those go to the FPGA.")
        if self.teacher_model is None:
            self.teacher_model = f"{family_of(self.model)}-float"
        self.default_image_size()
        if self.log not in LOGGERS:
            raise ValueError(f"unknown log '{self.log}'; choose from {', '.join(LOGGERS)}.")
        if self.epochs <= 0 or self.min_steps < 1 or self.teacher_scale <= 0:
            raise ValueError("epochs and teacher_scale must be positive, min_steps at least 1.")
        if self.selection_rounds < 1:
            raise ValueError(f"selection_rounds must be at least 1 (got {self.selection_rounds}).")
        if self.selection_rounds > 1 and self.selection == "random":
            raise ValueError("selection_rounds needs a selection rule for the first round, "
                             "e.g. --selection typicover.")
        if self.labels is None and self.labels_per_class is None and self.labels_file is None:
            raise ValueError("fit is for few labels: give --labels, --labels-per-class or "
                             "--labels-file.")


@dataclass
class Stage:
    name: str
    train: TrainConfig
    purpose: str


def _base(cfg: FitConfig, steps: int) -> dict[str, Any]:
    return {**cfg.data_choice(), "width_mult": cfg.width_mult, "steps": steps,
            "batch_size": cfg.batch_size, "unlabeled_ratio": cfg.unlabeled_ratio,
            "eval_every": max(25, steps // 20), "seed": cfg.seed, "device": cfg.device,
            "progress": cfg.progress, "log": cfg.log}


def _supervised_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in STRONG_VIEW_OPTIONS}


def schedule(cfg: FitConfig, unlabeled_pool: int) -> int:
    """Student/baseline steps: `epochs` over the unlabelled pool, at least `min_steps`."""
    if cfg.steps is not None:
        return cfg.steps
    per_epoch = unlabeled_pool / max(1, round(cfg.batch_size * cfg.unlabeled_ratio))
    return max(cfg.min_steps, int(round(cfg.epochs * per_epoch)))


def plan(cfg: FitConfig, fit_dir: Path, unlabeled_pool: int) -> list[Stage]:
    """The stages, in order, with their resolved training configs. Stage run directories
    are `fit_dir/<stage>-…`, which is how later stages find the teacher."""
    from tinyssl.models import family_of
    from tinyssl.select.rounds import ROUNDS_LABELS_FILE

    steps = schedule(cfg, unlabeled_pool)
    teacher_steps = cfg.teacher_steps or max(1, round(cfg.teacher_scale * steps))
    sup = _supervised_options(cfg.method_options)
    teacher_dir = str(fit_dir / "teacher")
    twin = (family_of(cfg.teacher_model or "") == family_of(cfg.model))
    stages: list[Stage] = []

    def add(name: str, purpose: str, **extra: Any) -> None:
        s = extra.pop("steps", steps)
        stages.append(Stage(name, load_config(None, {**_base(cfg, s), "name": name, **extra}),
                            purpose))

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
    if cfg.pretrain_steps > 0:
        add("pretrain", "SimCLR pre-training of the teacher on every image",
            model=cfg.teacher_model, method="simclr", steps=cfg.pretrain_steps,
            labels=None, labels_per_class=None, labels_file=None, selection="random",
            method_options={})
    add("teacher", f"float teacher, {cfg.teacher_method} on labels + unlabelled images",
        model=cfg.teacher_model, method=cfg.teacher_method, steps=teacher_steps,
        method_options=dict(cfg.method_options), selection_rounds=cfg.selection_rounds,
        init=str(fit_dir / "pretrain") if cfg.pretrain_steps > 0 else None)
    if cfg.baseline and rounds:
        add_baseline()
    if cfg.float_init_ablation and twin:
        add("float_init", "quantized, initialised from the float teacher, labels only",
            model=cfg.model, method="supervised", method_options=sup, init=teacher_dir,
            lr=cfg.student_lr, **teacher_labels)
    add("student", "quantized, initialised from the teacher, distilled on every image",
        model=cfg.model, method="distill", init=teacher_dir if twin else None,
        lr=cfg.student_lr if twin else None, **teacher_labels,
        method_options={**cfg.method_options, "teacher": teacher_dir,
                        "temperature": cfg.temperature})
    return stages


def _stage_dir(fit_dir: Path, name: str) -> Path:
    """Stage runs live at a fixed path (not time-stamped) so that later stages, and
    `--resume`, can name them."""
    return fit_dir / name


def data_facts(cfg: FitConfig) -> tuple[int, tuple[int, int, int], int]:
    """(unlabelled images the student will see, image shape H×W×C, number of classes)."""
    from tinyssl.data import load_dataset, make_split

    bundle = load_dataset(cfg.data, image_size=cfg.image_size, resize=cfg.resize)
    if cfg.labels_file is not None:  # chosen labels: read (and checked) now, before any stage
        from tinyssl.data.labels_file import read_labels_file

        labeled = len(read_labels_file(cfg.labels_file, bundle)[0])
    else:  # a random draw checks the budget; a selection picks the same number of images
        labeled = len(make_split(bundle, bundle.num_classes, labels=cfg.labels,
                                 labels_per_class=cfg.labels_per_class,
                                 val_per_class=cfg.val_per_class, seed=cfg.seed).labeled)
    pool = (len(bundle.train) - labeled - cfg.val_per_class * bundle.num_classes
            + (len(bundle.unlabeled) if bundle.unlabeled else 0))
    if cfg.unlabeled is not None:
        pool = min(pool, int(round(cfg.unlabeled * pool)) if cfg.unlabeled < 1
                   else int(cfg.unlabeled))
    return pool, bundle.image_shape, bundle.num_classes


def estimate_seconds(cfg: FitConfig, stages: list[Stage], image_shape: tuple[int, int, int],
                     num_classes: int) -> dict[str, float]:
    """Seconds per stage, from timing three real training steps of each stage's method and
    model on random images of the data's shape (export/FINN/verify not included)."""
    from tinyssl.train.timing import seconds_per_step

    return {s.name: s.train.steps * seconds_per_step(s.train, image_shape, num_classes,
                                                      teacher_model=cfg.teacher_model)
            for s in stages}


def run_fit(cfg: FitConfig, fit_dir: Path, echo: Any = print) -> dict[str, Any]:
    """Run (or continue) every stage in `fit_dir`; write fit.json and fit.md; return the
    result dictionary."""
    from tinyssl.pipeline import run_training
    from tinyssl.train import TrainingInterrupted

    pool, shape, classes = data_facts(cfg)
    stages = plan(cfg, fit_dir, pool)
    estimate = estimate_seconds(cfg, stages, shape, classes)
    total = sum(estimate.values())
    echo(f"fit into {fit_dir}: {len(stages)} training stages, about {total / 60:.1f} min of "
         "training on this machine (" + ", ".join(
             f"{s.name} {s.train.steps} steps ≈ {estimate[s.name] / 60:.1f} min"
             for s in stages) + ")" + (", then export, FINN estimates and verification"
                                       if cfg.hardware else "") + ".")
    started = time.perf_counter()
    for stage in stages:
        run = _stage_dir(fit_dir, stage.name)
        if (run / "summary.json").is_file():
            echo(f"{stage.name}: done before, kept ({run}).")
            continue
        echo(f"{stage.name}: {stage.purpose} — {stage.train.model}, {stage.train.method}, "
             f"{stage.train.steps} steps.")
        resume = run if (run / "config.yaml").is_file() else None
        if resume is None:
            run.mkdir(parents=True)
            stage.train.save(run / "config.yaml")
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
    atomic_write_bytes(fit_dir / "fit.json", json.dumps(result, indent=2).encode())
    atomic_write_bytes(fit_dir / "fit.md", fit_markdown(result).encode())
    if cfg.log == "tensorboard":
        fit_events(result)
    return result


def _hardware(cfg: FitConfig, student: Path, echo: Any) -> None:
    from tinyssl.export import export_run
    from tinyssl.fpga import build_run
    from tinyssl.verify import verify_run

    if not (student / "fpga" / "report.json").is_file():
        echo(f"student: export → FINN estimates for {cfg.board} at {cfg.target_fps:g} FPS.")
        export_run(student)
        build_run(student, board=cfg.board, target_fps=cfg.target_fps)
    if not (student / "verify.json").is_file():
        echo(f"student: bit-exact verification on {cfg.verify_images} test images.")
        verify_run(student, images=cfg.verify_images)


def start_fit(cfg: FitConfig | None, runs_root: Path, resume: Path | None,
              echo: Any = print) -> dict[str, Any]:
    """A new fit directory (config saved first) or the one to resume (its own config)."""
    if resume is not None:
        if not (resume / FIT_FILE).is_file():
            raise ValueError(f"{resume} is not a fit directory (no {FIT_FILE}).")
        cfg = FitConfig.load(resume / FIT_FILE, {})
        return run_fit(cfg, resume, echo)
    assert cfg is not None
    data = Path(cfg.data.split(":", 1)[-1]).name.split(".")[0] if ":" in cfg.data else cfg.data
    fit_dir = new_run_dir(runs_root, f"fit-{data}-{cfg.model}-s{cfg.seed}")
    save_fit_config(cfg, fit_dir)
    return run_fit(cfg, fit_dir, echo)


def save_fit_config(cfg: FitConfig, fit_dir: Path) -> None:
    """fit.yaml: what `--resume` reads back."""
    fit_dir.mkdir(parents=True, exist_ok=True)
    (fit_dir / FIT_FILE).write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
