"""Stitched RTL chains as FINN builds them: a width converter where stream widths differ,
FIFOs between layers, and the Verilator patches that let FINN's FIFO elaborate."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from rtl_fixtures import PART, width_mismatch_pair

from tinyssl.verify import rtl_designs, rtl_stage, rtl_stitch, rtlsim


def _names(runs: list[list]) -> list[list[str]]:
    return [[inst.onnx_node.name for inst in run] for run in runs]


def test_streams_of_different_width_are_not_chained_without_a_converter(tmp_path: Path) -> None:
    model = width_mismatch_pair()
    # 2-bit words padded to 8 bits do not feed an 8-bit (SIMD 4) input: two runs, not one
    assert _names(rtl_stage.chains(model)) == [["ConvolutionInputGenerator_rtl_0"],
                                                ["MVAU_rtl_0"]]
    full = rtl_stitch.stitched(model, tmp_path / "code", PART)
    (chain,) = _names(rtl_stage.stitched_chains(full))
    assert chain[0] == "ConvolutionInputGenerator_rtl_0" and chain[-1] == "MVAU_rtl_0"
    assert "StreamingDataWidthConverter_rtl_0" in chain
    assert any(name.startswith("StreamingFIFO_rtl") for name in chain)
    from qonnx.custom_op.registry import getCustomOp

    dwc = getCustomOp(full.get_node_from_name("StreamingDataWidthConverter_rtl_0"))
    assert (dwc.get_instream_width(0), dwc.get_outstream_width(0)) == (2, 8)
    # every inserted node has its generated Verilog, and every link now matches in width
    for run in rtl_stage.chains(full):
        for inst in run:
            assert rtl_designs.layer_of(inst).files
    assert all(len(run) > 1 for run in rtl_stage.chains(full))


def _lint(tmp_path: Path, fifo_text: str, depth: int) -> subprocess.CompletedProcess:
    (tmp_path / "fifo.sv").write_text(fifo_text)
    (tmp_path / "top.sv").write_text(
        f"module top(input clk, rst, ivld, ordy, input [7:0] idat, output irdy, ovld,\n"
        f"  output [7:0] odat);\n  fifo #(.DEPTH({depth}), .DATA_WIDTH(8)) f(.clk, .rst, .idat,"
        " .ivld, .irdy, .odat, .ovld, .ordy, .count(), .maxcount());\nendmodule\n")
    return subprocess.run([*rtlsim.verilator_command(), "--lint-only", "--no-timing",
                           "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", "top",
                           "fifo.sv", "top.sv"], cwd=tmp_path, capture_output=True, text=True)


def test_the_fifo_patch_makes_fifo_sv_elaborate(tmp_path: Path) -> None:
    from finn.util.settings import get_settings

    from tinyssl.fpga.finn_env import finn_modules

    finn_modules()
    text = (Path(get_settings().finn_rtllib) / "fifo" / "hdl" / "fifo.sv").read_text()
    assert _lint(tmp_path, text, 2).returncode != 0  # the installed file: Verilator refuses
    out = rtl_designs.patched("fifo.sv", text)
    for depth in (2, 40, 300, 3000):  # shift, distributed, block and ultra storage
        proc = _lint(tmp_path, out, depth)
        assert proc.returncode == 0, proc.stderr
    with pytest.raises(rtl_designs.UnsupportedNode, match="no longer applies"):
        rtl_designs.patched("fifo.sv", out)


def test_the_fifo_wrapper_instantiates_the_fifo_that_is_built(tmp_path: Path) -> None:
    from qonnx.custom_op.registry import getCustomOp

    full = rtl_stitch.stitched(width_mismatch_pair(), tmp_path / "code", PART)
    layer = rtl_designs.layer_of(getCustomOp(full.get_node_from_name("StreamingFIFO_rtl_1")))
    assert {f.name for f in layer.files} == {"StreamingFIFO_rtl_1.v", "fifo.sv"}
    generated = (layer.code_dir / "StreamingFIFO_rtl_1.v").read_text()
    text = rtl_designs.patched("StreamingFIFO_rtl_1.v", generated)
    # FINN's simulation define selects fifo_gauge (FIFO sizing's unbounded FIFO); the copy
    # simulates fifo.sv at the depth FINN gave
    assert "`ifdef FINN_SIMULATION\n\tfifo_gauge" in generated
    assert "`ifdef FINN_SIMULATION" not in text and "fifo #(.DEPTH(2)" in text
