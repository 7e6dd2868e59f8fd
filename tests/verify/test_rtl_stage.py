"""`verify --rtl`: FINN's generated Verilog simulated with Verilator, bit-exact against FINN's
Python execution, on hand-made layers and on a trained digits run; corrupted weights and
thresholds in the generated RTL are caught and named; the Vivado hand-off is consistent."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rtl_fixtures import IMAGES, build_handmade, handmade_graph, handmade_inputs

from tinyssl.cli import main
from tinyssl.verify import rtl_designs, rtlsim
from tinyssl.verify.rtl_stage import simulate


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    return build_handmade(tmp_path_factory.mktemp("handmade"))


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny-w2a2 trained on digits (real data), its RTL stage run once on 12 images."""
    runs = tmp_path_factory.mktemp("runs")
    result = CliRunner().invoke(main, [
        "train", "--data", "digits", "--model", "tiny-w2a2", "--image-size", "16", "--steps",
        "60", "--labels-per-class", "20", "--device", "cpu", "--no-progress", "--threads", "1",
        "--runs", str(runs), "--name", "digits"])
    assert result.exit_code == 0, result.output
    run = next(runs.iterdir())
    result = CliRunner().invoke(main, ["verify", str(run), "--images", "12", "--rtl"])
    assert result.exit_code == 0, result.output
    (run / "verify_output.txt").write_text(result.output)
    return run


def test_each_rtl_layer_type_alone_is_bit_exact(handmade, tmp_path: Path) -> None:
    model, ref = handmade
    x = handmade_inputs()
    thresholds = handmade_graph().get_initializer("t_thr")
    # the fixture hits the thresholds exactly and both ends of the INT4 input range
    assert np.isin(thresholds, x["t_in"]).all() and {-8, 7} <= set(x["t_in"].ravel())
    r = simulate(model, ref, IMAGES, tmp_path)
    rows = {row["op_type"]: row for row in r["nodes"]}
    assert set(rows) == {"Thresholding_rtl", "FMPadding_rtl", "ConvolutionInputGenerator_rtl",
                         "MVAU_rtl"}
    assert r["not_simulated"] == [] and r["bit_exact"] is True
    for row in r["nodes"]:
        assert row["simulated"] and row["bit_exact"], row
        # streaming at one word a cycle, so within a small margin of FINN's own estimate
        assert 0.5 * row["finn_estimate_cycles"] <= row["cycles_per_image"] \
            <= 1.2 * row["finn_estimate_cycles"] + 16, row
    # the padding really is there: every padded border position of FINN's output is 0
    pad = ref["p_out"]
    assert (pad[:, 0] == 0).all() and (pad[:, :, :2] == 0).all() and (pad[:, -2:] == 0).all()


def test_backpressure_does_not_change_the_output(handmade, tmp_path: Path) -> None:
    model, ref = handmade
    steady = simulate(model, ref, IMAGES, tmp_path / "a")
    stalled = simulate(model, ref, IMAGES, tmp_path / "b", stall_percent=40)
    assert stalled["simulator"]["cached"] is True  # same design: nothing recompiled
    assert stalled["bit_exact"] is True
    assert stalled["simulator"]["cycles"] > steady["simulator"]["cycles"]


def _corrupt_first_line(path: Path) -> None:
    lines = path.read_text().split("\n")
    width = len(lines[0])
    lines[0] = format((int(lines[0], 16) + 1) % 16 ** width, f"0{width}x")
    path.write_text("\n".join(lines))


def test_corrupted_threshold_and_weight_are_named(handmade, tmp_path: Path) -> None:
    model, ref = handmade
    code = shutil.copytree(model.parent / "code", tmp_path / "code")
    moved = Path(shutil.copy(model, tmp_path / "handmade.onnx"))  # finds code/ beside it
    _corrupt_first_line(next((code / "Thresholding_rtl_0").glob("*threshs_0_0.dat")))
    _corrupt_first_line(code / "MVAU_rtl_0" / "memblock.dat")
    r = simulate(moved, ref, IMAGES, tmp_path / "data")
    assert r["simulator"]["cached"] is True  # weights/thresholds are data, read at start-up
    bad = {row["node"] for row in r["nodes"] if row["simulated"] and not row["bit_exact"]}
    assert bad == {"Thresholding_rtl_0", "MVAU_rtl_0"}
    assert r["first_bad_node"] == "Thresholding_rtl_0" and r["bit_exact"] is False
    diff = next(row for row in r["nodes"] if row["node"] == "MVAU_rtl_0")["first_difference"]
    assert diff["image"] == 0 and diff["expected"] != diff["simulated"]


@pytest.mark.parametrize(("dtype", "elements"), [("INT2", 4), ("UINT8", 3), ("INT11", 1),
                                                 ("INT4", 20), ("UINT1", 9)])
def test_word_packing_matches_finns(dtype: str, elements: int) -> None:
    from finn.util.data_packing import npy_to_rtlsim_input, rtlsim_output_to_npy
    from qonnx.core.datatype import DataType

    from tinyssl.fpga.finn_env import finn_modules
    from tinyssl.verify.rtl_stage import pack_words, unpack_words

    finn_modules()
    dt = DataType[dtype]
    rng = np.random.default_rng(3)
    values = rng.integers(dt.min(), dt.max() + 1, (50, elements)).astype(np.float32)
    values[0], values[1] = dt.min(), dt.max()  # both range ends, every element
    width = dt.bitwidth() * elements
    words = pack_words(values, dt.bitwidth())
    assert words == [int(w) for w in npy_to_rtlsim_input(values, dt, width)]  # 80 bits too
    noisy = [w | (0b101 << width) for w in words]  # bits above the stream are ignored
    back = unpack_words(noisy, elements, dt.bitwidth(), dt.signed())
    assert (back == values).all()
    assert (back == rtlsim_output_to_npy(words, None, dt, values.shape, width,
                                         dt.bitwidth())).all()


def test_cache_key_follows_the_verilog_only() -> None:
    sources = {"a.sv": "module a; endmodule\n", rtl_designs.TOP_FILE: "module top; endmodule\n"}
    key = rtlsim.design_key(sources)
    assert rtlsim.design_key(dict(sources)) == key
    assert rtlsim.design_key({**sources, "a.sv": "module a;  endmodule\n"}) != key


def test_add_multi_patch_applies_to_the_installed_finn() -> None:
    from finn.util.settings import get_settings

    from tinyssl.fpga.finn_env import finn_modules

    finn_modules()
    text = (Path(get_settings().finn_rtllib) / "mvu" / "add_multi.sv").read_text()
    out = rtl_designs.patched("add_multi.sv", text)
    assert out != text and out.index("function leaf_load_t") < out.index("begin : genTree")
    with pytest.raises(rtl_designs.UnsupportedNode, match="no longer applies"):
        rtl_designs.patched("add_multi.sv", out)


def test_rtl_stage_on_a_trained_digits_run(digits_run: Path) -> None:
    report = json.loads((digits_run / "verify.json").read_text())
    rtl = report["rtl"]
    assert report["agree"] is True and rtl["bit_exact"] is True and rtl["images"] == 12
    impl = rtl["resources"]["impl"]
    simulated = {row["node"] for row in rtl["nodes"] if row["simulated"]}
    assert simulated == {name for name, style in impl.items() if style == "rtl"}
    assert {n.split("_")[0] for n in simulated} >= {"Thresholding", "MVAU",
                                                    "ConvolutionInputGenerator"}
    assert set(rtl["not_simulated"]) == {name for name, style in impl.items() if style == "hls"}
    assert any(n.startswith("Pool_hls") for n in rtl["not_simulated"])
    # stitched as FINN builds them: a width converter where ConvolutionInputGenerator_rtl_1
    # (SIMD 1) feeds MVAU_rtl_1 (SIMD 4), FIFOs between layers; every chain bit-exact
    assert len(rtl["stitched"]) >= 2 and rtl["stitched_bit_exact"] is True
    first = rtl["stitched"][0]["nodes"]
    assert first.index("ConvolutionInputGenerator_rtl_1") < first.index(
        "StreamingDataWidthConverter_rtl_0") < first.index("MVAU_rtl_1")
    assert all(any(n.startswith("StreamingFIFO_rtl") for n in c["nodes"])
               for c in rtl["stitched"])
    assert all(row["protocol_violations"] == 0 for row in rtl["nodes"] if row["simulated"])
    assert all(row["cycles_per_image"] > 0 for row in rtl["nodes"] if row["simulated"])
    out = (digits_run / "verify_output.txt").read_text()
    assert "not simulated (HLS only)" in out and "bit-exact" in out and "stitched" in out


def test_corrupted_weight_in_a_trained_run_is_named(digits_run: Path, tmp_path: Path) -> None:
    run = shutil.copytree(digits_run, tmp_path / "run", symlinks=True)
    _corrupt_first_line(run / "fpga" / "rtl" / "code" / "MVAU_rtl_1" / "memblock.dat")
    result = CliRunner().invoke(main, ["verify", str(run), "--images", "4", "--rtl"])
    assert result.exit_code == 1
    assert "the RTL simulation of MVAU_rtl_1 differs from FINN's Python execution" in result.output
    assert "Traceback" not in result.output
    report = json.loads((run / "verify.json").read_text())
    assert report["rtl"]["first_bad_node"] == "MVAU_rtl_1"
    assert [s for s in report["stages"].values() if not s["agree"]] == []


def test_rtl_handoff_is_consistent_with_the_build(digits_run: Path, tmp_path: Path) -> None:
    from handoff_checks import check_handoff

    dest = tmp_path / "handoff"
    result = CliRunner().invoke(main, ["fpga", "build", str(digits_run), "--rtl", "--handoff",
                                       str(dest)])
    assert result.exit_code == 0, result.output
    assert "RTL variants vs the default build" in result.output
    check_handoff(dest, digits_run / "fpga" / "rtl" / "finn")
    cfg = json.loads((dest / "build_config.json").read_text())
    assert cfg["standalone_thresholds"] is True


def test_missing_verilator_is_one_sentence(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    from fpga_fixtures import built_run

    run = built_run("tiny-w2a2")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    rtlsim.verilator_command.cache_clear()
    try:
        result = CliRunner().invoke(main, ["verify", str(run), "--rtl"])
    finally:
        rtlsim.verilator_command.cache_clear()
    assert result.exit_code == 1
    assert result.output.startswith("Error: Verilator is not installed")
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
