"""Find the first layer where a diverging stage leaves Brevitas.

Every representation of the network keeps one tensor per quantized activation: Brevitas's
QuantIdentity outputs, QONNX's Quant/BipolarQuant, QCDQ's DequantizeLinear/Where, FINN's
MultiThreshold (streamlined) and Thresholding / MVAU-with-activation (HW layers). They appear
in the same order, so the k-th activation of a graph is compared with the k-th QuantIdentity.
FINN stores activations as integer levels (e.g. bipolar {-1, 1} as {0, 1}) and moves scales
around, so a layer matches when its values are an exact affine image of Brevitas's (checked by
a least-squares fit); weight quantizers are skipped because they do not depend on the input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from brevitas.nn import QuantIdentity

from tinyssl.models import Net

#: Ops whose output is a quantized activation (when they depend on the graph input).
_ACTIVATION_OPS = {"Quant", "BipolarQuant", "DequantizeLinear", "Where", "MultiThreshold",
                   "Thresholding"}
_RTOL = 1e-4


def brevitas_activations(net: Net, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(module name, output) of every QuantIdentity, in call order, for raw-pixel input x."""
    names = {m: n for n, m in net.named_modules() if isinstance(m, QuantIdentity)}
    seen: list[tuple[str, np.ndarray]] = []
    hooks = [m.register_forward_hook(
        lambda mod, _inp, out: seen.append((names[mod], getattr(out, "value", out).numpy())))
        for m in names]
    try:
        with torch.no_grad():
            net(torch.from_numpy(x) / 255.0)
    finally:
        for h in hooks:
            h.remove()
    return seen


def graph_activations(path: Path, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(node name, output) of every activation node of an ONNX graph (and of the dataflow
    partitions it calls), in execution order."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    model = ModelWrapper(str(path))
    if not model.check_all_tensor_shapes_specified():  # QCDQ graphs come without shapes
        model = model.transform(InferShapes())
    shape = tuple(model.get_tensor_shape(model.graph.input[0].name)[1:])
    xs = x if x.shape[1:] == shape else x.transpose(0, 2, 3, 1)
    return _activations(model, xs)


def _activations(model: Any, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.custom_op.registry import getCustomOp

    iname = model.graph.input[0].name
    ctx = execute_onnx(model, {iname: x.astype(np.float32)}, return_full_exec_context=True)
    live, found = {iname}, []
    for node in model.graph.node:
        if not live.intersection(node.input):
            continue
        live.update(node.output)
        if node.op_type == "StreamingDataflowPartition":
            child = ModelWrapper(getCustomOp(node).get_nodeattr("model"))
            found += _activations(child, ctx[node.input[0]])
        elif node.op_type in _ACTIVATION_OPS or (
                node.op_type == "MVAU" and getCustomOp(node).get_nodeattr("noActivation") == 0):
            found.append((node.name, ctx[node.output[0]]))
    return found


def _affine_match(ref: np.ndarray, out: np.ndarray) -> bool:
    """Whether `out` equals alpha * ref + beta (same layout as NCHW ref, or NHWC)."""
    layouts = [ref]
    if ref.ndim == 4:
        layouts.append(ref.transpose(0, 2, 3, 1))
    for r in layouts:
        if r.size != out.size or (r.ndim == out.ndim and r.shape != out.shape):
            continue
        a, t = r.reshape(-1).astype(np.float64), out.reshape(-1).astype(np.float64)
        design = np.stack([a, np.ones_like(a)], axis=1)
        coef = np.linalg.lstsq(design, t, rcond=None)[0]
        if np.abs(design @ coef - t).max() <= _RTOL * max(1.0, np.abs(t).max()):
            return True
    return False


def first_diverging_layer(net: Net, path: Path, x: np.ndarray) -> dict[str, Any]:
    """Compare one image's activations layer by layer; name the first that differs."""
    ref = brevitas_activations(net, x)
    got = graph_activations(path, x)
    for (layer, a), (node, t) in zip(ref, got, strict=False):
        if not _affine_match(a, t):
            return {"layer": layer, "graph_node": node}
    if len(ref) != len(got):
        return {"layer": None, "graph_node": None,
                "note": f"Brevitas has {len(ref)} quantized activations, the graph {len(got)}."}
    return {"layer": "classifier", "graph_node": None,
            "note": "every quantized activation matches; the layers after the last one differ."}
