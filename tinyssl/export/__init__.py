"""Export a trained run: QONNX for FINN, QCDQ ONNX for onnxruntime, and its inference cost."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ["QCDQ_NAME", "QONNX_NAME", "UnsupportedModelError", "check_finn_compatible",
           "damage", "ensure_exported", "export_qonnx", "export_run", "inference_cost",
           "load_model", "require_classifier", "to_qcdq", "write_model"]

#: Imported on first use (PEP 562), so `tinyssl export --help` starts without torch.
_LAZY = {"UnsupportedModelError": "finn_check", "check_finn_compatible": "finn_check",
         "export_qonnx": "onnx_export", "to_qcdq": "onnx_export"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"tinyssl.export.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'tinyssl.export' has no attribute '{name}'")


QONNX_NAME = "model.qonnx.onnx"
QCDQ_NAME = "model.qcdq.onnx"


def require_classifier(run: Path) -> None:
    """Refuse a pre-training run where classes are expected: its head never saw a label, so
    the classes it gives (confidently) are noise."""
    import yaml

    from tinyssl.methods import METHODS, get_method

    cfg_path = Path(run) / "config.yaml"
    method = (yaml.safe_load(cfg_path.read_text()) or {}).get("method") if cfg_path.is_file() \
        else None
    if method in METHODS and not get_method(method).uses_labeled:
        raise ValueError(f"{run} is a {method} pre-training run: its classifier head was never "
                         f"trained, so its classes would be noise. Probe its encoder with "
                         f"`tinyssl probe {run} --data DATA`, or fine-tune it on labels with "
                         f"`tinyssl train --init {run} --data DATA --labels-per-class N` and use "
                         "that run.")


def export_run(run: Path) -> dict[str, Path]:
    """Write RUN/model.qonnx.onnx and RUN/model.qcdq.onnx from the run's best checkpoint."""
    from tinyssl.export.onnx_export import export_qonnx, to_qcdq
    from tinyssl.models import load_net

    run = Path(run)
    require_classifier(run)
    net, ckpt = load_net(run)
    spec = ckpt["model_spec"]
    qonnx_path, qcdq_path = run / QONNX_NAME, run / QCDQ_NAME
    export_qonnx(net, spec["in_channels"], spec["image_size"], qonnx_path)
    to_qcdq(qonnx_path, qcdq_path)
    return {"qonnx": qonnx_path, "qcdq": qcdq_path}


#: metadata_props key of the sha256 an exported model carries of itself (serialised without
#: that entry). Protobuf has no checksum of its own: a zeroed stretch of weights would parse.
DIGEST_KEY = "tinyssl_sha256"


def write_model(path: Path, model: Any) -> None:
    """An onnx ModelProto to `path`, atomically, carrying its own sha256 (one file: no
    sidecar that a crash could leave out of step with it)."""
    import hashlib

    from tinyssl.runs import atomic_write_bytes

    for i in reversed(range(len(model.metadata_props))):
        if model.metadata_props[i].key == DIGEST_KEY:
            del model.metadata_props[i]
    digest = hashlib.sha256(model.SerializeToString()).hexdigest()
    entry = model.metadata_props.add()
    entry.key, entry.value = DIGEST_KEY, digest
    atomic_write_bytes(Path(path), model.SerializeToString())
    del model.metadata_props[-1]  # the caller's model is left as it was


def damage(path: Path) -> str | None:
    """Why the exported model at `path` cannot be trusted (it does not parse, or its bytes
    differ from the sha256 it carries), or None when it is intact (a model exported before
    digests were embedded only has to parse)."""
    import hashlib

    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_from_string(Path(path).read_bytes())
    except (DecodeError, ValueError) as e:
        return f"it does not parse: {type(e).__name__}"
    props = [p for p in model.metadata_props if p.key == DIGEST_KEY]
    if not props:
        return None
    want = props[-1].value
    model.metadata_props.remove(props[-1])
    if hashlib.sha256(model.SerializeToString()).hexdigest() != want:
        return "its bytes differ from the sha256 written into it at export"
    return None


def load_model(path: Path) -> Any:
    """A ModelWrapper of an exported model, or one sentence naming the file and the fix."""
    from qonnx.core.modelwrapper import ModelWrapper

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no exported model at {path}: run `tinyssl export "
                                f"{path.parent}`.")
    if why := damage(path):
        raise ValueError(f"{path} is truncated or corrupt ({why}); re-export it with "
                         f"`tinyssl export {path.parent}`.")
    return ModelWrapper(str(path))


def ensure_exported(run: Path) -> dict[str, Path]:
    """Export unless both graphs exist, are intact and are newer than the checkpoint they
    came from. A damaged one is re-exported (a few seconds) with a warning naming it."""
    import warnings

    from tinyssl.runs import find_checkpoint

    run = Path(run)
    paths = {"qonnx": run / QONNX_NAME, "qcdq": run / QCDQ_NAME}
    ckpt_time = find_checkpoint(run).stat().st_mtime
    if all(p.is_file() and p.stat().st_mtime >= ckpt_time for p in paths.values()):
        damaged = {p: why for p in paths.values() if (why := damage(p))}
        if not damaged:
            return paths
        for p, why in damaged.items():
            warnings.warn(f"{p} is truncated or corrupt ({why}); re-exported from the "
                          "checkpoint.", stacklevel=2)
    return export_run(run)


def inference_cost(qonnx_path: Path) -> dict[str, float]:
    """qonnx's inference cost per image: MACs, bit operations, weight bits and elements."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.inference_cost import inference_cost as qonnx_cost

    res = qonnx_cost(ModelWrapper(str(qonnx_path)), discount_sparsity=False)["total_cost"]
    keep = ("total_macs", "total_bops", "total_mem_w_bits", "total_mem_w_elems",
            "total_mem_o_bits", "total_mem_o_elems")
    return {k: float(res[k]) for k in keep if k in res}
