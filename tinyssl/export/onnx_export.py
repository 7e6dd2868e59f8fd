"""Brevitas → QONNX (what FINN reads) and QONNX → QCDQ (what onnxruntime runs).

Both graphs take raw pixels: float NCHW with values 0..255, annotated UINT8. The network was
trained on pixels/255, so a Mul(1/255) is prepended, as FINN's CNV end-to-end example does with
its ToTensor pre-processing model; FINN then absorbs the scaling into the first thresholds and
the accelerator reads uint8 pixels straight from memory.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import torch
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.general import GiveUniqueNodeNames, RemoveUnusedTensors
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.qonnx_to_qcdq import QuantToQCDQ
from qonnx.util.cleanup import cleanup_model

from tinyssl.export.finn_check import check_finn_compatible
from tinyssl.models import Net


def export_qonnx(net: Net, in_channels: int, image_size: int, path: Path) -> ModelWrapper:
    """Export encoder + classifier (never pretext heads) to a cleaned QONNX file at `path`."""
    from brevitas.export import export_qonnx as brevitas_export

    from tinyssl.export import write_model

    check_finn_compatible(net)
    net = net.eval().cpu()
    example = torch.rand(1, in_channels, image_size, image_size)
    with tempfile.TemporaryDirectory() as tmp:  # the exporter may write external weight data
        raw = Path(tmp) / "raw.onnx"
        # verbose=False: torch.onnx's dynamo exporter otherwise prints a line per pass; its
        # "torchvision is not installed" notices concern detection ops no tinyssl model has.
        logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
        brevitas_export(net, example, str(raw), verbose=False)
        model = cleanup_model(ModelWrapper(str(raw)))
    model = _prepend_pixel_scaling(model)
    model = cleanup_model(model)
    write_model(path, model.model)
    return model


def _prepend_pixel_scaling(model: ModelWrapper) -> ModelWrapper:
    """Make the graph take raw 0..255 pixels: insert Mul(1/255) and annotate the input UINT8."""
    inp = model.graph.input[0].name
    scaled, const = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
    model.set_initializer(const, np.asarray(1.0 / 255.0, dtype=np.float32))
    for node in model.graph.node:
        node.input[:] = [scaled if name == inp else name for name in node.input]
    model.graph.node.insert(0, helper.make_node("Mul", [inp, const], [scaled]))
    model.set_tensor_datatype(inp, DataType["UINT8"])
    return model.transform(InferShapes())


def to_qcdq(qonnx_path: Path, path: Path) -> None:
    """QONNX → QuantizeLinear/Clip/DequantizeLinear graph that onnxruntime executes.

    qonnx's QuantToQCDQ leaves BipolarQuant (1-bit) nodes alone, so those are rewritten here
    as Where(x >= 0, scale, -scale), the exact bipolar definition in standard ONNX ops.
    """
    from tinyssl.export import write_model

    model = ModelWrapper(str(qonnx_path)).transform(QuantToQCDQ())
    model = _bipolar_to_where(model)
    model = model.transform(RemoveUnusedTensors()).transform(GiveUniqueNodeNames())
    left = sorted({n.op_type for n in model.graph.node if n.domain.startswith("qonnx")})
    if left:
        raise ValueError(f"QCDQ conversion left non-standard ops {left} that onnxruntime "
                         "cannot run.")
    write_model(path, model.model)


def _bipolar_to_where(model: ModelWrapper) -> ModelWrapper:
    graph = model.graph
    for node in [n for n in graph.node if n.op_type == "BipolarQuant"]:
        x, scale_name = node.input[0], node.input[1]
        scale = model.get_initializer(scale_name).astype(np.float32)
        zero, pos, neg, cond = (model.make_new_valueinfo_name() for _ in range(4))
        model.set_initializer(zero, np.zeros((), dtype=np.float32))
        model.set_initializer(pos, scale)
        model.set_initializer(neg, -scale)
        index = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(index, helper.make_node("Where", [cond, pos, neg], [node.output[0]]))
        graph.node.insert(index, helper.make_node("GreaterOrEqual", [x, zero], [cond]))
    return model
