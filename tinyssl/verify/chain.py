"""Run the same test images through Brevitas, QONNX, FINN and onnxruntime and compare.

Agreement means: every stage picks the same top-1 class as Brevitas on every image, and its
logits differ from Brevitas's by no more than float rounding (LOGIT_RTOL of the logit range;
FINN replaces batch norm + quantizer by integer thresholds and keeps the final per-class affine
in float, so exact equality is not expected, rounding-level equality is). A top-1 that
differs only between classes whose Brevitas logits tie to within that tolerance counts as the
same. When a stage diverges, its activations are compared layer by layer with Brevitas's on
the first bad image (tinyssl.verify.layers) to name the first layer that differs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tinyssl.runs import atomic_write_json
from tinyssl.verify import DEFAULT_IMAGES, stages
from tinyssl.verify.layers import first_diverging_layer

LOGIT_RTOL = 1e-4
#: FINN intermediate models compared, in flow order.
FINN_GRAPHS = {"finn_streamlined": "step_streamline.onnx", "finn_hw": "step_convert_to_hw.onnx"}


def load_test_images(run: Path, data: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The run's test set (or `data`) as raw-pixel float NCHW and labels."""
    from tinyssl.data import DataError, load_dataset
    from tinyssl.runs import find_checkpoint, load_checkpoint

    spec = load_checkpoint(find_checkpoint(run))["model_spec"]
    cfg_path = run / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text()) if cfg_path.is_file() else {}
    source = data or cfg.get("data")
    if not source:
        raise DataError(f"{run} has no config.yaml naming its data; pass --data SOURCE.")
    test = load_dataset(source, spec["image_size"], resize=cfg.get("resize", "squash")).test
    if test.x.shape[-1] != spec["in_channels"]:
        raise DataError(f"{source} has {test.x.shape[-1]} channels but the model takes "
                        f"{spec['in_channels']}.")
    x = np.ascontiguousarray(np.asarray(test.x).transpose(0, 3, 1, 2), dtype=np.float32)
    return x, np.asarray(test.y)


def _compare(ref: np.ndarray, out: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    diff = np.abs(out - ref).max(axis=1)
    tol = LOGIT_RTOL * max(1.0, float(np.abs(ref).max()))
    # same top-1, where a float-rounding-level tie in Brevitas's logits may go either way
    picked = np.take_along_axis(ref, out.argmax(1)[:, None], axis=1)[:, 0]
    same = picked >= ref.max(1) - tol
    bad = np.flatnonzero(~same | (diff > tol))
    return {
        "top1_agreement": float(same.mean()),
        "max_abs_logit_diff": float(diff.max()),
        "accuracy": float((out.argmax(1) == y).mean()),
        "agree": bool(len(bad) == 0),
        "first_bad_image": int(bad[0]) if len(bad) else None,
    }


def verify_run(run: Path, images: int = DEFAULT_IMAGES, data: str | None = None,
               rtl: bool = False) -> dict[str, Any]:
    """Compare all stages on `images` test images (onnxruntime on the full test set); write
    RUN/verify.json and return it. Exports and builds (estimates only) first if needed. With
    `rtl`, also simulate the RTL-variant accelerator's Verilog (tinyssl.verify.rtl_stage)."""
    from tinyssl.export import QCDQ_NAME, QONNX_NAME
    from tinyssl.fpga.build import finn_dir
    from tinyssl.models import load_net

    run = Path(run)
    if images < 1:
        raise ValueError("--images must be at least 1.")
    if rtl:
        from tinyssl.verify.rtlsim import verilator_command

        verilator_command()  # no Verilator: one sentence now, not after the other stages
    x_all, y_all = load_test_images(run, data)
    x, y = x_all[:images], y_all[:images]
    accelerator = finn_accelerator_graph(run)  # exports and builds first when needed
    inter = finn_dir(run) / "intermediate_models"
    net, _ = load_net(run)
    paths = {
        "qonnx": run / QONNX_NAME,
        **{name: inter / file for name, file in FINN_GRAPHS.items()},
        "finn_accelerator": accelerator,
        "onnxruntime_qcdq": run / QCDQ_NAME,
    }
    graphs = {
        "qonnx": stages.qonnx_stage(paths["qonnx"]),
        **{name: stages.finn_stage(paths[name]) for name in (*FINN_GRAPHS, "finn_accelerator")},
        "onnxruntime_qcdq": stages.onnxruntime_stage(paths["onnxruntime_qcdq"]),
    }
    ref = stages.brevitas_stage(net)(x)
    result: dict[str, Any] = {"images": len(x), "stages": {
        "brevitas": {"top1_agreement": 1.0, "max_abs_logit_diff": 0.0,
                     "accuracy": float((ref.argmax(1) == y).mean()), "agree": True,
                     "first_bad_image": None, "seconds": None}}}
    for name, stage in graphs.items():
        start = time.perf_counter()
        out = stage(x)
        result["stages"][name] = {**_compare(ref, out, y),
                                  "seconds": round(time.perf_counter() - start, 3)}
    diverging = [n for n, s in result["stages"].items() if not s["agree"]]
    if rtl:
        from tinyssl.verify.rtl_stage import rtl_stage

        result["rtl"] = rtl_stage(run, x)
    result["agree"] = not diverging and result.get("rtl", {}).get("bit_exact", True)
    result["first_diverging_stage"] = diverging[0] if diverging else None
    result["first_diverging_layer"] = None
    if diverging:
        bad = result["stages"][diverging[0]]["first_bad_image"]
        result["first_diverging_layer"] = first_diverging_layer(
            net, paths[diverging[0]], x[bad:bad + 1])
    full = graphs["onnxruntime_qcdq"](x_all)
    result["quant_test_acc"] = float((full.argmax(1) == y_all).mean())
    result["test_images"] = len(x_all)
    atomic_write_json(run / "verify.json", result)
    return result


def finn_accelerator_graph(run: Path) -> Path:
    """The run's built accelerator as a graph FINN executes in Python (see
    stages.generic_hw_copy); exports and builds (estimates only) first when out of date."""
    from tinyssl.export import QONNX_NAME, ensure_exported
    from tinyssl.fpga.build import build_run, finn_dir

    ensure_exported(run)
    inter = finn_dir(run) / "intermediate_models"
    parent = inter / "dataflow_parent.onnx"
    if not parent.is_file() or parent.stat().st_mtime < (run / QONNX_NAME).stat().st_mtime:
        build_run(run)
    return stages.generic_hw_copy(parent, _last_model(inter), run / "fpga" / "verify")


def _last_model(inter: Path) -> Path:
    """The accelerator graph as the build left it (estimates are generated on the final one)."""
    return inter / "step_generate_estimate_reports.onnx"
