"""The execution stages of the bit-accurate chain, each `raw pixels (N,C,H,W float 0..255) →
logits (N, classes)`.

Brevitas sees pixels/255 (what it was trained on); every ONNX graph takes the raw pixels and
does the /255 itself. FINN's graphs after the streamline step are fixed to batch 1 and its
specialised (HLS/RTL) layers execute only in C++/RTL simulation, so the final folded graph is
run with each layer mapped back to its generic FINN op, which has an exact Python model and
keeps the folding and minimised bit widths the build chose.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from tinyssl.models import Net
from tinyssl.runs import atomic_write_bytes

Stage = Callable[[np.ndarray], np.ndarray]


def brevitas_stage(net: Net) -> Stage:
    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(x) / 255.0).numpy()

    return run


def _rebatched(path: Path, batch: int):  # -> ModelWrapper
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    from tinyssl.export import load_model

    return load_model(path).transform(ChangeBatchSize(batch)).transform(InferShapes())


def _chunked(fn: Callable[[np.ndarray], np.ndarray], batch: int) -> Stage:
    """Run a fixed-batch graph over any number of images, padding the last chunk."""

    def run(x: np.ndarray) -> np.ndarray:
        outs = []
        for i in range(0, len(x), batch):
            chunk = x[i:i + batch]
            pad = np.zeros((batch - len(chunk), *x.shape[1:]), dtype=np.float32)
            outs.append(fn(np.concatenate([chunk, pad]))[:len(chunk)])
        return np.concatenate(outs).reshape(len(x), -1)

    return run


def qonnx_stage(path: Path, batch: int = 32) -> Stage:
    from qonnx.core.onnx_exec import execute_onnx

    model = _rebatched(path, batch)
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    return _chunked(lambda x: execute_onnx(model, {iname: x})[oname], batch)


def onnxruntime_stage(path: Path, batch: int = 256) -> Stage:
    import onnxruntime as ort

    model = _rebatched(path, batch)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    # Basic optimisations only: the extended level fuses DequantizeLinear → Gemm/MatMul →
    # QuantizeLinear into integer QLinear kernels that round differently (onnxruntime 1.25:
    # tiny-w8a8 logits 0.77 off Brevitas, top-1 unchanged; basic and none are exact), and the
    # QCDQ model is the one that must compute what the FPGA computes.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(model.model.SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"])
    iname = session.get_inputs()[0].name
    return _chunked(lambda x: session.run(None, {iname: x})[0], batch)


def finn_stage(path: Path) -> Stage:
    """FINN's Python execution of one of its graphs (batch 1, NCHW or NHWC input)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from tinyssl.fpga.finn_env import finn_modules

    finn_modules()  # registers FINN's custom ops with qonnx
    model = ModelWrapper(str(path))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    shape = tuple(model.get_tensor_shape(iname)[1:])

    def run(x: np.ndarray) -> np.ndarray:
        xs = x if x.shape[1:] == shape else x.transpose(0, 2, 3, 1)  # NHWC after streamlining
        return np.concatenate([execute_onnx(model, {iname: xs[i:i + 1]})[oname].reshape(1, -1)
                               for i in range(len(xs))])

    return run


def generic_hw_copy(parent: Path, child: Path, out_dir: Path) -> Path:
    """Copy of the built accelerator graph runnable in Python: specialised layers (MVAU_hls,
    Thresholding_rtl, …) back to their generic FINN ops, the partition pointing at it."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    hw = ModelWrapper(str(child))
    for node in hw.graph.node:
        base, _, variant = node.domain.rpartition(".")
        if variant in ("hls", "rtl"):
            node.domain, node.op_type = base, node.op_type.rsplit("_", 1)[0]
    atomic_write_bytes(out_dir / "accelerator_generic.onnx", hw.model.SerializeToString())
    top = ModelWrapper(str(parent))
    for node in top.get_nodes_by_op_type("StreamingDataflowPartition"):
        getCustomOp(node).set_nodeattr("model", str(out_dir / "accelerator_generic.onnx"))
    atomic_write_bytes(out_dir / "parent_generic.onnx", top.model.SerializeToString())
    return out_dir / "parent_generic.onnx"
