"""Hand-made FINN RTL layers for the Verilator tests: one graph of independent layers (so one
compiled design holds them all), each with inputs chosen to hit its corner cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

PART = "xc7z020clg400-1"
DOMAIN = "finn.custom_op.fpgadataflow"
IMAGES = 3


def _node(op: str, inputs: list[str], output: str, **attrs: object) -> object:
    return helper.make_node(op, inputs, [output], domain=DOMAIN, backend="fpgadataflow",
                            name=f"{op}_{output}", **attrs)


def handmade_graph():  # -> ModelWrapper
    """Thresholding (thresholds at the input range's ends and on input values, PE 2),
    FMPadding (1-2 pixels each side, SIMD 2), sliding windows (3x3 stride 1 SIMD 2; depthwise
    2x2 stride 2 SIMD 2), MVAU (SIMD 3, PE 2, INT4 x INT4)."""
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    rng = np.random.default_rng(0)
    thresholds = np.array([[-8, 0, 7], [-3, -3, 2], [-1, 1, 7], [-8, -8, -8]], dtype=np.float32)
    weights = rng.integers(-7, 8, (12, 6)).astype(np.float32)  # narrow: DSP48E1
    nodes = [
        _node("Thresholding", ["t_in", "t_thr"], "t_out", NumChannels=4, PE=2, numSteps=3,
              inputDataType="INT4", weightDataType="INT4", outputDataType="INT2", ActVal=-2,
              numInputVectors=[1, 4, 4]),
        _node("FMPadding", ["p_in"], "p_out", ImgDim=[5, 5], Padding=[1, 2, 2, 1],
              NumChannels=4, SIMD=2, inputDataType="INT4", numInputVectors=1),
        _node("ConvolutionInputGenerator", ["c_in"], "c_out", ConvKernelDim=[3, 3],
              IFMChannels=4, IFMDim=[6, 6], OFMDim=[4, 4], SIMD=2, Stride=[1, 1],
              Dilation=[1, 1], inputDataType="INT4", outputDataType="INT4"),
        _node("ConvolutionInputGenerator", ["d_in"], "d_out", ConvKernelDim=[2, 2],
              IFMChannels=4, IFMDim=[4, 4], OFMDim=[2, 2], SIMD=2, Stride=[2, 2],
              Dilation=[1, 1], depthwise=1, inputDataType="INT4", outputDataType="INT4"),
        _node("MVAU", ["m_in", "m_w"], "m_out", MW=12, MH=6, SIMD=3, PE=2,
              inputDataType="INT4", weightDataType="INT4", outputDataType="INT12",
              accDataType="INT12", noActivation=1, numInputVectors=[1, 3, 3],
              mem_mode="internal_decoupled"),
    ]
    shapes = {"t_in": [1, 4, 4, 4], "t_out": [1, 4, 4, 4], "p_in": [1, 5, 5, 4],
              "p_out": [1, 8, 8, 4], "c_in": [1, 6, 6, 4], "c_out": [1, 4, 4, 36],
              "d_in": [1, 4, 4, 4], "d_out": [1, 2, 2, 16], "m_in": [1, 3, 3, 12],
              "m_out": [1, 3, 3, 6]}
    ins = [n.input[0] for n in nodes]
    outs = [n.output[0] for n in nodes]
    graph = helper.make_graph(
        nodes, "handmade",
        [helper.make_tensor_value_info(t, TensorProto.FLOAT, shapes[t]) for t in ins],
        [helper.make_tensor_value_info(t, TensorProto.FLOAT, shapes[t]) for t in outs])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("t_thr", thresholds)
    model.set_initializer("m_w", weights)
    for t in (*ins, "m_w", "t_thr"):
        model.set_tensor_datatype(t, DataType["INT4"])
    model.set_tensor_datatype("t_out", DataType["INT2"])
    for t in ("p_out", "c_out", "d_out"):
        model.set_tensor_datatype(t, DataType["INT4"])
    model.set_tensor_datatype("m_out", DataType["INT12"])
    return model


def handmade_inputs() -> dict[str, np.ndarray]:
    """IMAGES stacked inputs per graph input; the thresholding input sweeps every INT4 value
    on every channel (so each threshold is met exactly, and both range ends appear)."""
    rng = np.random.default_rng(1)
    sweep = np.stack([np.roll(np.arange(-8, 8), 5 * i).reshape(4, 4) for i in range(4)], -1)
    return {
        "t_in": np.stack([np.roll(sweep, i, axis=0) for i in range(IMAGES)]).astype(np.float32),
        "p_in": rng.integers(-8, 8, (IMAGES, 5, 5, 4)).astype(np.float32),
        "c_in": rng.integers(-8, 8, (IMAGES, 6, 6, 4)).astype(np.float32),
        "d_in": rng.integers(-8, 8, (IMAGES, 4, 4, 4)).astype(np.float32),
        "m_in": rng.integers(-8, 8, (IMAGES, 3, 3, 12)).astype(np.float32),
    }


def build_handmade(out_dir: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """The graph specialised to RTL with generated Verilog (saved in out_dir), and every
    tensor of FINN's Python execution of the generic graph, stacked over IMAGES."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.custom_op.registry import getCustomOp

    from tinyssl.fpga.finn_env import finn_modules
    from tinyssl.fpga.rtl import keep_generated_code

    finn_modules()
    model = handmade_graph()
    x = handmade_inputs()
    contexts = [execute_onnx(model, {k: v[i:i + 1] for k, v in x.items()},
                             return_full_exec_context=True) for i in range(IMAGES)]
    streams = [t for n in model.graph.node for t in (n.input[0], n.output[0])]
    ref = {t: np.concatenate([c[t] for c in contexts]) for t in streams}
    for node in model.graph.node:
        getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
    model = model.transform(SpecializeLayers(PART)).transform(PrepareIP(PART, 10.0))
    out_dir.mkdir(parents=True, exist_ok=True)
    keep_generated_code(model, out_dir / "code").save(str(out_dir / "handmade.onnx"))
    return out_dir / "handmade.onnx", ref


def width_mismatch_pair():  # -> ModelWrapper
    """A sliding window with SIMD 1 (2-bit words, padded to 8) feeding an MVAU with SIMD 4
    (8-bit words; narrow weights, as DSP48E1 needs), specialised to RTL: FINN needs a width
    converter between them (the tiny-w2a2 digits build has this pair:
    ConvolutionInputGenerator_rtl_1 -> MVAU_rtl_1)."""
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.util.basic import qonnx_make_model

    from tinyssl.fpga.finn_env import finn_modules

    finn_modules()
    nodes = [
        _node("ConvolutionInputGenerator", ["x"], "win", ConvKernelDim=[3, 3], IFMChannels=4,
              IFMDim=[4, 4], OFMDim=[2, 2], SIMD=1, Stride=[1, 1], Dilation=[1, 1],
              inputDataType="INT2", outputDataType="INT2"),
        _node("MVAU", ["win", "w"], "y", MW=36, MH=2, SIMD=4, PE=1, inputDataType="INT2",
              weightDataType="INT2", outputDataType="INT8", accDataType="INT8",
              noActivation=1, numInputVectors=[1, 2, 2], mem_mode="internal_decoupled"),
    ]
    shapes = {"x": [1, 4, 4, 4], "win": [1, 2, 2, 36], "y": [1, 2, 2, 2]}
    graph = helper.make_graph(
        nodes, "pair", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shapes["x"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shapes["y"])],
        value_info=[helper.make_tensor_value_info("win", TensorProto.FLOAT, shapes["win"])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("w", np.random.default_rng(2).integers(-1, 2, (36, 2))
                          .astype(np.float32))
    for t, dt in (("x", "INT2"), ("win", "INT2"), ("w", "INT2"), ("y", "INT8")):
        model.set_tensor_datatype(t, DataType[dt])
    for node in model.graph.node:
        getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
    return model.transform(SpecializeLayers(PART))
