"""The typed run configuration: one dataclass, settable from YAML and overridable from the CLI.

Every training option lives here, so a run's `config.yaml` alone reproduces it. Values are
checked once, up front, so a typo becomes one clear sentence instead of a traceback from deep
inside torch an hour into training.
"""

from __future__ import annotations

import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

OPTIMIZERS = ("sgd", "adam", "adamw")
DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = ("auto", "bf16", "fp16", "off")
#: Where a run logs besides metrics.jsonl: TensorBoard event files in the run directory, or
#: nowhere else (train/callbacks/tensorboard.py).
LOGGERS = ("tensorboard", "none")
#: What a training run's `selection` may be: "random" is the default class-stratified draw
#: (labels_per_class of every class: it needs the labels a customer does not have yet),
#: the others (uniform and select/rules.py's COLD_RULES: a test checks they agree) pick
#: from the pool without looking at labels. Named here: the config sits below select.
SELECTIONS = ("random", "uniform", "typicover", "typiclust", "probcover", "kcenter")
#: Learning rate when none is given: (optimizer is SGD, model is quantized) → lr. The
#: quantized presets keep weights in [-1, 1] with rounding steps of 1/(2^(W-1)-1) (ternary at
#: W = 2), so a weight needs a large push to change level: tiny-w2a2 on mnist5k, all labels,
#: 1000 SGD steps reaches 79 % at lr 0.03, 92 % at 0.1, 96 % at 0.3 (cnv-w2a2, 400 steps:
#: val 56 % at 0.03, 92 % at 0.3). Float baselines keep FixMatch's 0.03; Adam gets
#: BNN-PYNQ's 0.02 for quantized models (94 %), 1e-3 otherwise.
DEFAULT_LR = {(True, True): 0.3, (True, False): 0.03, (False, True): 0.02, (False, False): 1e-3}


@dataclass
class DataChoice:
    """The data and which images are labelled: the fields a training run and a fit share
    (fit hands them to every stage as they are). First in both, so their YAML files keep
    this order."""

    data: str = "digits"
    image_size: int | None = None
    resize: str = "squash"  # non-square images: squash, center-crop or pad (images.py)
    labels: int | None = None
    labels_per_class: int | None = None
    val_per_class: int = 10
    unlabeled: float | None = None  # cap on the unlabelled pool: count, or fraction if < 1
    labels_file: str | None = None  # CSV of the images to label (tinyssl select): no random draw
    selection: str = "random"  # class-stratified draw; or uniform, typicover, typiclust, …
    selection_features: str = "simclr"  # for `selection`: simclr (on the spot), pixels, or RUN

    def data_choice(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(DataChoice)}

    def default_image_size(self) -> None:
        if self.image_size is None and self.data == "digits":
            self.image_size = 16  # digits are 8×8, smaller than any FPGA preset takes


@dataclass
class TrainConfig(DataChoice):
    """One training run. `warmup` < 1 is a fraction of `steps`, >= 1 a number of steps."""

    # data: DataChoice's fields, then
    selection_steps: int = 400  # SimCLR steps of the on-the-spot selection encoder
    selection_rounds: int = 1  # > 1: spend the budget in rounds, the later ones by uncertainty
    cache_dir: str | None = None
    # model
    model: str = "tiny-w2a2"
    width_mult: float = 1.0
    init: str | None = None
    freeze_encoder: bool = False
    # method
    method: str = "supervised"
    method_options: dict[str, Any] = field(default_factory=dict)
    # pseudo-label growth (composable with any method that uses labels)
    pseudo_label: bool = False
    pl_target: float = 0.7
    pl_every: int = 100
    pl_max: int = 100
    pl_threshold: float = 0.9
    pl_balanced: bool = False
    pl_calibrate: bool = False  # temperature scaling on the validation split before growth
    # a trained run (e.g. a fit's FIT/teacher) whose network scores the pool for growth; the
    # run then labels that run's labelled images and validates on fresh ones
    pl_source: str | None = None
    # optimisation
    steps: int = 1000
    batch_size: int = 64
    unlabeled_ratio: float = 3.0
    optimizer: str = "sgd"
    lr: float | None = None  # None: DEFAULT_LR for the optimizer and model
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup: float = 0.05
    ema: float = 0.999
    amp: str = "auto"
    channels_last: bool = True
    bn_recalibrate: bool = True
    fast_quant: bool = True  # Brevitas layers train through tinyssl.models.fast_quant
    # bookkeeping
    eval_every: int = 100
    # > 0: stop when the validation score has not improved for this many evaluations
    # (train/callbacks/early_stopping.py); the score is labelled validation accuracy, or without
    # validation images its agreement with the method's reference (a student's teacher) on
    # `holdout_unlabeled` held-out unlabelled images
    early_stop_patience: int = 0
    holdout_unlabeled: int = 0  # unlabelled images kept out of training for that score
    target_acc: float | None = None
    seed: int = 0
    device: str = "auto"
    name: str | None = None
    progress: bool = True
    log_every_s: float = 30.0  # a plain progress line this often when stderr is no terminal
    checkpoint_every_s: float = 60.0  # last.pt at least this often (and at every validation)
    log: str = "tensorboard"  # also TensorBoard event files in the run directory; or none

    def validate(self) -> TrainConfig:
        """Refuse impossible settings with one sentence each, fill in the learning rate the
        optimizer and model call for when none is given; return self for chaining."""
        from tinyssl.data.images import RESIZE_MODES
        from tinyssl.methods import METHODS
        from tinyssl.models import check_image_size, check_model, parse_quant_name

        # Counts first: `steps 0` is the mistake, not the selection_rounds that exceed it.
        for name in ("steps", "batch_size", "eval_every", "pl_every", "pl_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 (got {getattr(self, name)}).")
        if self.method not in METHODS:
            raise ValueError(f"unknown method '{self.method}'; choose from {', '.join(METHODS)}.")
        self.default_image_size()
        check_model(self.model)
        parsed = parse_quant_name(self.model)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer == "sgd", parsed is not None]
        _choice("resize", self.resize, RESIZE_MODES)
        _choice("device", self.device, DEVICES)
        _choice("amp", self.amp, AMP_MODES)
        _choice("log", self.log, LOGGERS)
        if self.labels is not None and self.labels_per_class is not None:
            raise ValueError("give either labels or labels_per_class, not both.")
        self._check_selection()
        for name in ("labels", "labels_per_class", "image_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (got {value}).")
        if self.unlabeled is not None and (self.unlabeled < 0 or
                                           (1 <= self.unlabeled != int(self.unlabeled))):
            raise ValueError("unlabeled must be a count (a whole number >= 1) or a fraction in "
                             f"[0, 1) of the unlabelled pool (got {self.unlabeled}).")
        if self.early_stop_patience < 0 or self.holdout_unlabeled < 0:
            raise ValueError("early_stop_patience and holdout_unlabeled must be at least 0.")
        if self.log_every_s <= 0 or self.checkpoint_every_s < 0:
            raise ValueError("log_every_s must be positive and checkpoint_every_s at least 0.")
        if self.lr <= 0 or self.width_mult <= 0 or self.unlabeled_ratio <= 0:
            raise ValueError("lr, width_mult and unlabeled_ratio must be positive.")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1) (got {self.ema}); 0 turns it off.")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0 (got {self.warmup}).")
        if self.pl_calibrate and self.val_per_class < 1:
            raise ValueError("pl_calibrate fits its temperature on the validation split: "
                             "give val_per_class >= 1.")
        self._check_pl_source()
        if self.freeze_encoder and not self.init:
            raise ValueError("freeze_encoder needs init (a run whose encoder to load).")
        check_image_size(self.model, self.image_size)
        if self.val_per_class < 0:
            raise ValueError(f"val_per_class must be at least 0 (got {self.val_per_class}).")
        if not 0 <= self.pl_threshold <= 1 or not 0 <= self.pl_target <= 1:
            raise ValueError("pl_threshold and pl_target must be in [0, 1] (a probability and "
                             "an accuracy; threshold 0 accepts every prediction).")
        if self.target_acc is not None and not 0 < self.target_acc <= 1:
            raise ValueError(f"target_acc is an accuracy in (0, 1] (got {self.target_acc}).")
        if not isinstance(self.method_options, dict):
            raise ValueError("method_options must be a mapping of option name to value.")
        # Last: the only check that imports the method (and so torch).
        self.method_options = _checked_method_options(self.method, self.method_options)
        return self

    def _check_pl_source(self) -> None:
        if self.pl_source is None:
            return
        if not (self.pseudo_label or self.method == "pseudolabel"):
            raise ValueError("pl_source scores the images pseudo-label growth adds: give "
                             "pseudo_label (or method pseudolabel).")
        if not (Path(self.pl_source) / "split.npz").is_file():
            raise ValueError(f"pl_source must be a trained run directory (e.g. a fit's "
                             f"FIT/teacher); {self.pl_source} has no split.npz.")
        if (self.labels, self.labels_per_class, self.labels_file) != (None, None, None) or \
                self.selection != "random":
            raise ValueError("with pl_source the labelled images are the source run's: give "
                             "no labels, labels_per_class, labels_file or selection.")
        if self.val_per_class < 1:
            raise ValueError("with pl_source, growth is gated (and calibrated) on a "
                             "validation split the source never trained on: give "
                             "val_per_class >= 1.")

    def _check_selection(self) -> None:
        _choice("selection", self.selection, SELECTIONS)
        if self.labels_file is not None and (self.labels is not None or
                                             self.labels_per_class is not None):
            raise ValueError("labels_file lists the labelled images; give no labels or "
                             "labels_per_class with it.")
        if self.labels_file is not None and self.selection != "random":
            raise ValueError("give labels_file or selection, not both.")
        if self.selection != "random" and self.labels is None and self.labels_per_class is None:
            raise ValueError(f"selection {self.selection} needs a budget: labels or "
                             "labels_per_class.")
        if self.selection_features not in ("simclr", "pixels") and not (
                Path(self.selection_features) / "config.yaml").is_file():
            raise ValueError(f"selection_features must be simclr, pixels or a run directory "
                             f"(got '{self.selection_features}').")
        if self.selection_steps < 1 or self.selection_rounds < 1:
            raise ValueError("selection_steps and selection_rounds must be at least 1.")
        if self.selection_rounds > 1 and self.selection == "random":
            raise ValueError("selection_rounds needs a selection rule for the first round "
                             "(e.g. selection: typiclust).")
        if self.selection_rounds > self.steps:  # a round every step at most
            raise ValueError(f"selection_rounds ({self.selection_rounds}) cannot exceed steps "
                             f"({self.steps}).")
        if self.selection_rounds > 1 and self.pseudo_label:
            raise ValueError("selection_rounds and pseudo_label both grow the labelled set; "
                             "use one.")

    @property
    def method_label(self) -> str:
        """The name reports group by: `uda+pl` when pseudo-label growth is on, `uda+pl-bal`
        when it is class-balanced (`pseudolabel-bal` for the stand-alone method), `-cal` after
        that when its confidences are temperature-scaled, `-src` when another run scores."""
        if not self.pseudo_label and self.method != "pseudolabel":
            return self.method
        name = self.method if self.method == "pseudolabel" else f"{self.method}+pl"
        name = f"{name}-bal" if self.pl_balanced else name
        name = f"{name}-cal" if self.pl_calibrate else name
        return f"{name}-src" if self.pl_source else name

    @property
    def warmup_steps(self) -> int:
        return int(self.warmup * self.steps) if self.warmup < 1 else int(self.warmup)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        from tinyssl.runs import atomic_write_bytes

        atomic_write_bytes(path, yaml.safe_dump(self.to_dict(), sort_keys=False).encode())


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} '{value}'; choose from {', '.join(choices)}.")


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Turn YAML/CLI values into the field's type (e.g. 5 → 5.0 for floats), or say why not."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        if value is None and type(None) in args:
            return None
        annotation = next(a for a in args if a is not type(None))
    origin = typing.get_origin(annotation) or annotation
    if origin is Any:
        return value
    if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if origin is bool and isinstance(value, bool):
        return value
    if origin is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if origin is str and isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if origin is dict and isinstance(value, dict):
        return dict(value)
    raise ValueError(f"option {name} must be {getattr(origin, '__name__', origin)}, "
                     f"got {value!r}.")


def _checked_method_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """Names and types of `-o` options checked against what the method's constructor takes,
    before any run directory exists; values typed (e.g. 1 → 1.0 for a float option)."""
    from tinyssl.methods import method_options

    if not options:
        return {}
    known = method_options(method)
    checked = {}
    for key, value in options.items():
        if key not in known:
            listing = ", ".join(f"{k} ({d!r})" for k, (_, d) in known.items()) or "none"
            raise ValueError(f"method {method} has no option '{key}'; its options (default) "
                             f"are: {listing}.")
        checked[key] = _coerce(f"{key} of method {method}", value, known[key][0])
    return checked


def read_config_file(path: Path | str, what: str = "config file") -> dict[str, Any]:
    """A YAML file holding a mapping, or one sentence naming the file (and the line of a
    syntax error): every config the CLI reads (train, fit, pretrain, sweep, transfer)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {path} does not exist.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ValueError(f"{path}{where}: not valid YAML ({problem}).") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot be read as a text file ({e}).") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path} must hold a mapping of option: value at the top level "
                         f"(found a {type(raw).__name__}).")
    return raw


def read_options(path: Path | None, overrides: dict[str, Any], known: list[str],
                 what: str = "") -> dict[str, Any]:
    """The one loader of every config (train, fit, sweep, transfer): the YAML file's mapping
    (optional), then `overrides` (None values ignored), refusing keys not in `known`."""
    label = f"{what} config" if what else "config file"
    raw = read_config_file(path, label) if path is not None else {}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if unknown := sorted(set(raw) - set(known)):
        where = f"{path}: " if path is not None else ""
        raise ValueError(f"{where}unknown {what + ' ' if what else ''}option(s) "
                         f"{', '.join(unknown)}; known options are {', '.join(known)}.")
    return raw


def load_config(path: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """YAML file (optional) then overrides (None values ignored), checked and typed."""
    hints = typing.get_type_hints(TrainConfig)
    raw = read_options(path, overrides, list(hints))
    return TrainConfig(**{k: _coerce(k, v, hints[k]) for k, v in raw.items()}).validate()
