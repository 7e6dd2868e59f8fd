"""`verify --rtl`: FINN's generated Verilog, simulated with Verilator, against FINN's Python.

Every RTL node of the RTL-variant build (tinyssl.fpga.rtl) is simulated alone, its input stream
being what FINN's Python execution of the accelerator graph fed it (node by node: an error in
one layer cannot hide or move an error in another), on the same test images as the other verify
stages. Each contiguous chain of RTL layers (between HLS-only layers) is also simulated as one
stitched design, with the width converters and FIFOs FINN puts between them (rtl_stitch), fed
the chain's Python input and compared at its end; the stage is bit-exact when every node and
every chain is. All of these are lanes of
one Verilated design (rtl_designs), compiled once and cached (rtlsim). A node is bit-exact when
every output of every image equals FINN's Python output; otherwise the first differing output is
reported (image, position in the NHWC output tensor, expected and simulated value). Cycles per
image are the steady-state interval between images (the first image's latency is reported too),
next to FINN's own cycle estimate.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinyssl.verify import rtl_designs as rd
from tinyssl.verify import rtl_stitch as rs
from tinyssl.verify import rtlsim


def reference_tensors(parent: Path, child: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor of the accelerator graph `child` (generic FINN ops: exact Python models),
    for each image of raw-pixel NCHW x, stacked along a leading image axis."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    top, acc = ModelWrapper(str(parent)), ModelWrapper(str(child))
    sdp = top.get_nodes_by_op_type("StreamingDataflowPartition")[0]
    iname = top.graph.input[0].name
    shape = tuple(top.get_tensor_shape(iname)[1:])
    xs = x if x.shape[1:] == shape else x.transpose(0, 2, 3, 1)
    per_image: list[dict[str, np.ndarray]] = []
    for i in range(len(xs)):
        outer = execute_onnx(top, {iname: xs[i:i + 1]}, return_full_exec_context=True)
        inner = execute_onnx(acc, {acc.graph.input[0].name: outer[sdp.input[0]]},
                             return_full_exec_context=True)
        per_image.append(inner)
    return {name: np.concatenate([ctx[name] for ctx in per_image])
            for name in per_image[0] if isinstance(per_image[0][name], np.ndarray)}


def relocated(model: Any, code_dir: Path) -> Any:
    """Point each node at code_dir/<node> where that exists (a run copied or moved keeps its
    generated code beside the model; FINN stores absolute paths)."""
    from qonnx.custom_op.registry import getCustomOp

    for node in model.graph.node:
        if (code_dir / node.name).is_dir():
            getCustomOp(node).set_nodeattr("code_gen_dir_ipgen",
                                           str((code_dir / node.name).resolve()))
    return model


def chains(model: Any) -> list[list[Any]]:
    """Maximal runs of simulated RTL nodes, each feeding the next with the same stream width
    (unpadded: a 2-bit stream padded to 8 bits does not feed an 8-bit one; FINN puts a width
    converter there, rtl_stitch), in graph order."""
    from qonnx.custom_op.registry import getCustomOp

    runs: list[list[Any]] = []
    prev = None
    for node in model.graph.node:
        if node.op_type not in rd.SIMULATED:
            prev = None
            continue
        inst = getCustomOp(node)
        joins = (prev is not None and prev.onnx_node.output[0] == node.input[0]
                 and prev.get_outstream_width(0) == inst.get_instream_width(0))
        if joins:
            runs[-1].append(inst)
        else:
            runs.append([inst])
        prev = inst
    return runs


def pack_words(values: np.ndarray, bits: int) -> list[int]:
    """Rows of integer `values` (words × elements) as stream words, element j in bits
    [j*bits, (j+1)*bits), two's complement: the layout of FINN's npy_to_rtlsim_input, which
    goes through a hex string per word (about 0.5 ms a word here, minutes for 100 images)."""
    fields = values.astype(np.int64) & ((1 << bits) - 1)
    words = np.zeros(len(fields), dtype=object)
    for j in range(fields.shape[1]):
        words += fields[:, j].astype(object) << (j * bits)
    return words.tolist()


def unpack_words(words: list[int], elements: int, bits: int, signed: bool) -> np.ndarray:
    """The inverse of pack_words (FINN's rtlsim_output_to_npy, vectorised): words × elements."""
    arr = np.array(words, dtype=object)
    out = np.empty((len(words), elements), dtype=np.int64)
    for j in range(elements):
        out[:, j] = ((arr >> (j * bits)) & ((1 << bits) - 1)).astype(np.int64)
    if signed:
        out -= (out >= 1 << (bits - 1)) * (1 << bits)
    return out


def _plain(dt: Any) -> bool:
    """An integer datatype stored as its two's complement (not BIPOLAR's 0/1 for -1/+1)."""
    return dt.is_integer() and dt.name != "BIPOLAR"


def _words(inst: Any, values: np.ndarray) -> list[int]:
    folded = (len(values), *inst.get_folded_input_shape(0)[1:])
    idt = inst.get_input_datatype(0)
    if not _plain(idt):
        from finn.util.data_packing import npy_to_rtlsim_input

        return npy_to_rtlsim_input(values.reshape(folded), idt, inst.get_instream_width(0))
    return pack_words(values.reshape(-1, folded[-1]), idt.bitwidth())


def _words_per_image(inst: Any) -> int:
    return int(np.prod(inst.get_folded_output_shape(0)[1:-1]))


def _unpack(inst: Any, words: list[int], images: int) -> np.ndarray:
    odt = inst.get_output_datatype(0)
    folded = (images, *inst.get_folded_output_shape(0)[1:])
    if not _plain(odt):
        from finn.util.data_packing import rtlsim_output_to_npy

        width = inst.get_outstream_width(0)
        out = rtlsim_output_to_npy([w & ((1 << width) - 1) for w in words], None, odt, folded,
                                   width, odt.bitwidth())
    else:
        out = unpack_words(words, folded[-1], odt.bitwidth(), odt.signed())
    return out.reshape(images, *inst.get_normal_output_shape(0)[1:]).astype(np.float32)


def _compare(expected: np.ndarray, words: list[int], last: Any, images: int) -> dict[str, Any]:
    """bit-exact, or the first differing output (or how far the stream got)."""
    want = _words_per_image(last) * images
    if len(words) < want:
        return {"bit_exact": False, "first_difference": {
            "note": f"the simulation stopped after {len(words)} of {want} output words "
                    "(the design stalled)"}}
    got = _unpack(last, words, images)
    bad = np.argwhere(got != expected)
    if len(bad) == 0:
        return {"bit_exact": True, "first_difference": None}
    where = tuple(int(i) for i in bad[0])
    return {"bit_exact": False, "mismatches": int(len(bad)), "first_difference": {
        "image": where[0], "index": list(where[1:]),
        "expected": float(expected[where]), "simulated": float(got[where])}}


def hardware_layout(inst: Any, values: np.ndarray) -> np.ndarray:
    """`values` (FINN's Python output of `inst`, stacked images) in the order the hardware
    streams it. They differ only for a depthwise sliding window, which FINN documents to emit
    (H, W, C/SIMD, K_H, K_W, SIMD) where its Python model (Im2Col) gives (H, W, K_H, K_W, C)."""
    if inst.onnx_node.op_type != "ConvolutionInputGenerator_rtl" or \
            not inst.get_nodeattr("depthwise"):
        return values
    kh, kw = inst.get_nodeattr("ConvKernelDim")
    simd = inst.get_nodeattr("SIMD")
    n, oh, ow, _ = values.shape
    split = values.reshape(n, oh, ow, kh, kw, -1, simd)
    return split.transpose(0, 1, 2, 5, 3, 4, 6).reshape(values.shape)


def _cycles(done: list[int]) -> dict[str, float | int | None]:
    if not done:
        return {"cycles_per_image": None, "latency_cycles": None}
    per = (done[-1] - done[0]) / (len(done) - 1) if len(done) > 1 else float(done[0])
    return {"cycles_per_image": round(per, 1), "latency_cycles": int(done[0])}


def stitched_chains(model: Any) -> list[list[Any]]:
    """The chains of the stitched accelerator (rtl_stitch) that join two or more layers, each
    from a layer to a layer (FIFOs and width converters inside, not at the ends)."""
    runs = []
    for run in chains(model):
        while run and rs.is_inserted(run[0].onnx_node):
            run = run[1:]
        while run and rs.is_inserted(run[-1].onnx_node):
            run = run[:-1]
        if sum(not rs.is_inserted(inst.onnx_node) for inst in run) > 1:
            runs.append(run)
    return runs


def _joined(model: Any) -> bool:
    """Whether any simulated node feeds another one."""
    names = {t for n in model.graph.node if n.op_type in rd.SIMULATED for t in n.input}
    return any(t in names for n in model.graph.node if n.op_type in rd.SIMULATED
               for t in n.output)


def simulate(model_path: Path, ref: dict[str, np.ndarray], images: int, data_dir: Path,
             stall_percent: int = 0, fpgapart: str = "xc7z020clg400-1") -> dict[str, Any]:
    """Simulate every RTL node alone and every stitched chain of two or more layers (with
    FINN's width converters and FIFOs between them, built for `fpgapart`); compare with `ref`."""
    from qonnx.core.modelwrapper import ModelWrapper

    from tinyssl.fpga.finn_env import finn_modules

    finn_modules()
    model = relocated(ModelWrapper(str(model_path)), Path(model_path).parent / "code")
    lanes = [[inst] for run in chains(model) for inst in run]
    if _joined(model):
        full = rs.stitched(model, data_dir / "stitched_code", fpgapart)
        lanes += stitched_chains(full)
        ref = rs.carried(full, ref)
    layers = [[rd.layer_of(inst) for inst in lane] for lane in lanes]
    sim = rtlsim.compile_design(rd.design_sources(layers))
    rd.stage_data(layers, data_dir)
    inputs = [rtlsim.LaneInput(_words(lane[0], ref[lane[0].onnx_node.input[0]]),
                               _words_per_image(lane[-1]), images) for lane in lanes]
    outs, total, seconds = rtlsim.run_lanes(sim, inputs, rd.lane_width(layers) // 32, data_dir,
                                            stall_percent=stall_percent)
    nodes: list[dict[str, Any]] = []
    stitched: list[dict[str, Any]] = []
    for lane, out in zip(lanes, outs, strict=True):
        last = lane[-1]
        expected = hardware_layout(last, ref[last.onnx_node.output[0]])
        row = {**_compare(expected, out.words, last, images),
               **_cycles(out.image_done_cycles), "protocol_violations": out.protocol_violations}
        if len(lane) == 1:
            nodes.append({"node": last.onnx_node.name, "op_type": last.onnx_node.op_type,
                          "simulated": True, **row, "finn_estimate_cycles":
                          int(last.get_exp_cycles())})
        else:
            stitched.append({"nodes": [inst.onnx_node.name for inst in lane], **row})
    simulated = {row["node"]: row for row in nodes}
    table = [simulated.get(n.name) or {"node": n.name, "op_type": n.op_type, "simulated": False,
                                       "note": "not simulated (HLS only)"}
             for n in model.graph.node]
    hls = [n.name for n in model.graph.node if n.name not in simulated]
    return {
        "images": images,
        "nodes": table,
        "stitched": stitched,
        "not_simulated": hls,
        "bit_exact": all(r["bit_exact"] for r in nodes) and all(r["bit_exact"]
                                                               for r in stitched),
        "stitched_bit_exact": all(r["bit_exact"] for r in stitched),
        "first_bad_node": next((r["node"] for r in nodes if not r["bit_exact"]), None) or next(
            (f"stitched {r['nodes'][0]} .. {r['nodes'][-1]}" for r in stitched
             if not r["bit_exact"]), None),
        "simulator": {"verilator": rtlsim.verilator_version(), "key": sim.key,
                      "cached": sim.cached, "compile_seconds": sim.compile_seconds,
                      "run_seconds": seconds, "cycles": total, "lanes": len(lanes)},
    }


def rtl_stage(run: Path, x: np.ndarray) -> dict[str, Any]:
    """Build the RTL variant of RUN if needed, simulate it on images x, return the result."""
    from tinyssl.export import QONNX_NAME, ensure_exported
    from tinyssl.fpga.rtl import accelerator_model, build_rtl, rtl_dir
    from tinyssl.verify.stages import generic_hw_copy

    rtlsim.verilator_command()  # a missing Verilator fails before the build, in one sentence
    ensure_exported(run)
    model = accelerator_model(run)
    if not model.is_file() or model.stat().st_mtime < (run / QONNX_NAME).stat().st_mtime:
        build_rtl(run)
    start = time.perf_counter()
    parent = generic_hw_copy(rtl_dir(run) / "dataflow_parent.onnx", model,
                             rtl_dir(run) / "verify")
    ref = reference_tensors(parent, rtl_dir(run) / "verify" / "accelerator_generic.onnx", x)
    python_seconds = round(time.perf_counter() - start, 2)
    report = json.loads((rtl_dir(run) / "report.json").read_text())
    result = simulate(model, ref, len(x), rtl_dir(run) / "sim_data", fpgapart=report["part"])
    result["python_seconds"] = python_seconds
    result["resources"] = {"rtl_build": report["totals"],
                           "default_build": report.get("default_totals"),
                           "difference": report.get("vs_default"), "impl": report["impl"]}
    return result
