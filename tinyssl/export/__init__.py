"""Export a trained run: QONNX for FINN, QCDQ ONNX for onnxruntime, and its inference cost."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ["QCDQ_NAME", "QONNX_NAME", "UnsupportedModelError", "check_finn_compatible",
           "ensure_exported", "export_qonnx", "export_run", "inference_cost",
           "require_classifier", "to_qcdq"]

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


def ensure_exported(run: Path) -> dict[str, Path]:
    """Export unless both graphs exist and are newer than the checkpoint they came from."""
    from tinyssl.runs import find_checkpoint

    run = Path(run)
    paths = {"qonnx": run / QONNX_NAME, "qcdq": run / QCDQ_NAME}
    ckpt_time = find_checkpoint(run).stat().st_mtime
    if all(p.is_file() and p.stat().st_mtime >= ckpt_time for p in paths.values()):
        return paths
    return export_run(run)


def inference_cost(qonnx_path: Path) -> dict[str, float]:
    """qonnx's inference cost per image: MACs, bit operations, weight bits and elements."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.inference_cost import inference_cost as qonnx_cost

    res = qonnx_cost(ModelWrapper(str(qonnx_path)), discount_sparsity=False)["total_cost"]
    keep = ("total_macs", "total_bops", "total_mem_w_bits", "total_mem_w_elems",
            "total_mem_o_bits", "total_mem_o_elems")
    return {k: float(res[k]) for k in keep if k in res}
