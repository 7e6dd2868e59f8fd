"""`tinyssl export`: QONNX + QCDQ files, inference cost, and clear refusals of models FINN
cannot compile."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner
from fpga_fixtures import make_run
from torch import nn

from tinyssl.cli import main
from tinyssl.export import UnsupportedModelError, check_finn_compatible
from tinyssl.models import build_model


def test_float_model_refused() -> None:
    with pytest.raises(UnsupportedModelError, match="float model"):
        check_finn_compatible(build_model("wrn-28-2", 3, 16, 4))


def test_unsupported_layer_named() -> None:
    net = build_model("tiny-w2a2", 1, 16, 4, 0.25)
    pool = next(i for i, m in enumerate(net.encoder.features) if isinstance(m, nn.MaxPool2d))
    net.encoder.features[pool] = nn.AvgPool2d(2)
    with pytest.raises(UnsupportedModelError,
                       match=rf"encoder\.features\.{pool} \(AvgPool2d\) has no FINN"):
        check_finn_compatible(net)


def test_cli_refuses_float_run_cleanly(tmp_path: Path) -> None:
    run = make_run(tmp_path, "resnet18", channels=3, steps=0)
    result = CliRunner().invoke(main, ["export", str(run)])
    assert result.exit_code == 2
    assert "float model" in result.output and "Traceback" not in result.output
    assert not (run / "model.qonnx.onnx").exists()


def test_cli_exports_both_graphs_and_cost(tmp_path: Path) -> None:
    run = make_run(tmp_path, "tiny-w1a1", channels=3)
    result = CliRunner().invoke(main, ["export", str(run), "--cost"])
    assert result.exit_code == 0, result.output
    qonnx = onnx.load(run / "model.qonnx.onnx")
    qcdq = onnx.load(run / "model.qcdq.onnx")
    assert {n.op_type for n in qonnx.graph.node} >= {"BipolarQuant", "Quant"}
    # onnxruntime runs only standard ops: bipolar quantizers rewritten, QCDQ in place
    assert all(not n.domain for n in qcdq.graph.node)
    assert {"QuantizeLinear", "DequantizeLinear", "Where"} <= {n.op_type for n in qcdq.graph.node}
    assert qonnx.graph.node[0].op_type == "Mul"  # raw uint8 pixels scaled by 1/255 in-graph
    cost = json.loads((run / "cost.json").read_text())
    # w1a1: one bit operation per MAC for every binary layer, 8-bit input layer costs more
    assert cost["total_macs"] > 0 and cost["total_bops"] >= cost["total_macs"]
    assert cost["total_mem_w_bits"] == cost["total_mem_w_elems"]  # 1-bit weights
    assert "total_macs" in result.output
