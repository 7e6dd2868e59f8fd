"""The accelerator as FINN stitches it: width converters and FIFOs between the layers.

FINN's code generation (step_hw_codegen, where tinyssl's RTL build stops) leaves layers whose
stream widths differ back to back: a sliding window with SIMD 1 (2-bit words) feeding an MVAU
with SIMD 4 (8-bit words). FINN's step_set_fifo_depths later inserts a
StreamingDataWidthConverter there (InsertDWC) and a StreamingFIFO between every pair of layers
(InsertFIFO), which is what the stitched IP connects. This module applies those same FINN
transformations to a copy of the accelerator, specialises the new nodes (RTL preferred) and
writes their Verilog (FINN's templates; no Vivado), so the stitched chains simulated by
rtl_stage are the ones FINN would build. FIFOs get FINN's shallow default depth (2): their real
depths come from FINN's FIFO sizing, which needs Vivado's simulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: the op types FINN inserts between layers; they carry their input unchanged
INSERTED = ("StreamingDataWidthConverter", "StreamingFIFO")


def is_inserted(node: Any) -> bool:
    return node.op_type.rsplit("_", 1)[0] in INSERTED


def stitched(model: Any, code_dir: Path, fpgapart: str, clk_ns: float = 10.0) -> Any:
    """A copy of `model` (ModelWrapper) with FINN's width converters and shallow FIFOs between
    its layers, the new nodes specialised and their Verilog written under code_dir/<node>."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    out = model.transform(InsertDWC()).transform(InsertFIFO(create_shallow_fifos=True))
    taken = {n.name for n in out.graph.node}
    for node in out.graph.node:
        if node.op_type in INSERTED:
            getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
    out = out.transform(SpecializeLayers(fpgapart))
    counts: dict[str, int] = {}
    for node in out.graph.node:
        if not is_inserted(node) or node.name in taken:
            continue
        while (name := f"{node.op_type}_{counts.setdefault(node.op_type, 0)}") in taken:
            counts[node.op_type] += 1
        node.name = name
        taken.add(name)
        inst = getCustomOp(node)
        (code_dir / name).mkdir(parents=True, exist_ok=True)
        inst.set_nodeattr("code_gen_dir_ipgen", str((code_dir / name).resolve()))
        if node.domain.endswith(".rtl"):
            inst.code_generation_ipgen(out, fpgapart, clk_ns)
    return out


def carried(model: Any, ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`ref` (FINN's Python tensors of the unstitched accelerator) extended to the tensors of
    the inserted nodes: each carries its input's values unchanged."""
    ref = dict(ref)
    for node in model.graph.node:
        if is_inserted(node) and node.input[0] in ref:
            ref[node.output[0]] = ref[node.input[0]]
    return ref
