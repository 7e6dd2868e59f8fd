"""`tinyssl verify`: every preset family and bit width computes the same logits in Brevitas,
QONNX, FINN (streamlined, HW layers, folded accelerator) and onnxruntime; a corrupted stage is
caught and named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from brevitas.nn import QuantIdentity
from click.testing import CliRunner
from fpga_fixtures import built_run
from onnx import numpy_helper

from tinyssl.cli import main
from tinyssl.export import write_model
from tinyssl.models import load_net
from tinyssl.verify import verify_run
from tinyssl.verify.chain import load_test_images

PRESETS = [("tiny-w1a1", 3, 16, 0.25), ("tiny-w2a2", 1, 16, 0.25), ("tiny-w4a4", 3, 16, 0.25),
           ("tiny-w8a8", 1, 16, 0.25), ("small-w4a4", 3, 32, 0.125), ("cnv-w1a1", 3, 32, 0.125),
           ("cnv-w2a2", 1, 32, 0.125)]
STAGES = ["brevitas", "qonnx", "finn_streamlined", "finn_hw", "finn_accelerator",
          "onnxruntime_qcdq"]


@pytest.mark.parametrize(("model", "channels", "size", "width"), PRESETS)
def test_all_stages_agree(model: str, channels: int, size: int, width: float) -> None:
    run = built_run(model, channels, size, width)
    result = verify_run(run, images=12)
    assert list(result["stages"]) == STAGES
    assert result["agree"] and result["first_diverging_stage"] is None
    for stage in result["stages"].values():
        assert stage["top1_agreement"] == 1.0 and stage["max_abs_logit_diff"] < 1e-4
    # full-test-set quantized accuracy equals the PyTorch model's own accuracy
    x, y = load_test_images(run, None)
    net, _ = load_net(run)
    with torch.no_grad():
        acc = (net(torch.from_numpy(x) / 255).argmax(1).numpy() == y).mean()
    assert result["quant_test_acc"] == pytest.approx(acc) and result["test_images"] == len(y)
    assert json.loads((run / "verify.json").read_text())["agree"] is True


def test_corrupted_stage_is_named(tmp_path: Path) -> None:
    run = shutil.copytree(built_run("tiny-w2a2"), tmp_path / "run")
    model = onnx.load(run / "model.qcdq.onnx")
    last_bn = [n for n in model.graph.node if n.op_type == "BatchNormalization"][-1]
    bias = next(t for t in model.graph.initializer if t.name == last_bn.input[2])
    values = numpy_helper.to_array(bias)
    shifted = values + 100.0 * np.arange(len(values))  # a different class wins every image
    bias.CopyFrom(numpy_helper.from_array(shifted.astype(np.float32), bias.name))
    write_model(run / "model.qcdq.onnx", model)  # as an exporter would: its digest matches
    result = CliRunner().invoke(main, ["verify", str(run), "--images", "8"])
    assert result.exit_code == 1
    assert "stage 'onnxruntime_qcdq' diverges from Brevitas at layer classifier" in result.output
    assert "Traceback" not in result.output
    report = json.loads((run / "verify.json").read_text())
    assert report["stages"]["finn_accelerator"]["agree"] is True
    assert report["first_diverging_stage"] == "onnxruntime_qcdq"
    assert report["first_diverging_layer"]["layer"] == "classifier"


def _weight_source(model: onnx.ModelProto, tensor: str) -> onnx.TensorProto:
    """The float initializer a QCDQ weight tensor is quantized from."""
    inits = {t.name: t for t in model.graph.initializer}
    producers = {out: n for n in model.graph.node for out in n.output}
    while tensor not in inits:
        tensor = producers[tensor].input[0]
    return inits[tensor]


def test_corrupted_middle_layer_is_named(tmp_path: Path) -> None:
    run = shutil.copytree(built_run("tiny-w2a2"), tmp_path / "run")
    model = onnx.load(run / "model.qcdq.onnx")
    second_conv = [n for n in model.graph.node if n.op_type == "Conv"][1]
    weight = _weight_source(model, second_conv.input[1])
    weight.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(weight), weight.name))
    write_model(run / "model.qcdq.onnx", model)  # as an exporter would: its digest matches
    result = verify_run(run, images=4)
    net, _ = load_net(run)
    acts = [name for name, m in net.named_modules() if isinstance(m, QuantIdentity)]
    # acts[0] quantizes the input, acts[1] follows the first conv, acts[2] the second
    assert result["first_diverging_stage"] == "onnxruntime_qcdq"
    assert result["first_diverging_layer"]["layer"] == acts[2]
    assert result["first_diverging_layer"]["graph_node"].startswith("DequantizeLinear")


def test_bad_data_source_is_one_sentence() -> None:
    result = CliRunner().invoke(main, ["verify", str(built_run("tiny-w2a2")), "--data",
                                       "npz:/no/such/file.npz"])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
