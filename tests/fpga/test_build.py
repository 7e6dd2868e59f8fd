"""`tinyssl fpga build`: boards, the FINN flow to estimates, the report, and the Vivado
steps skipped with a reason on machines without Vivado."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fpga_fixtures import built_run

from tinyssl.cli import main
from tinyssl.fpga import build_run, resolve_board
from tinyssl.fpga.boards import RESOURCES, Board
from tinyssl.fpga.build import HARDWARE_STEPS, summarize
from tinyssl.fpga.finn_env import detect_toolchain


def test_boards_and_parts() -> None:
    assert resolve_board("pynq-z1").part == "xc7z020clg400-1"
    assert resolve_board("KV260").finn_board == "KV260_SOM"
    assert resolve_board("ZCU104").capacity["URAM"] == 96
    part = resolve_board("xcku5p-ffvb676-2-e")
    assert part.finn_board is None and part.capacity is None
    with pytest.raises(ValueError, match="unknown board 'Arty'"):
        resolve_board("Arty")


def test_toolchain_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("XILINX_VIVADO", raising=False)
    monkeypatch.delenv("XILINX_HLS", raising=False)
    assert detect_toolchain().missing() == ["vivado", "vitis_hls"]
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "vivado").write_text("")
    monkeypatch.setenv("XILINX_VIVADO", str(tmp_path))
    tools = detect_toolchain()
    assert tools.vivado and tools.missing() == ["vitis_hls"] and not tools.complete


def test_report_matches_finn_estimates() -> None:
    run = built_run("tiny-w2a2")
    report = json.loads((run / "fpga" / "report.json").read_text())
    assert report["board"] == "Pynq-Z1" and report["fits"] is True
    for key in RESOURCES:
        assert report["totals"][key] == pytest.approx(sum(la[key] for la in report["layers"]),
                                                      abs=1.0)
    slowest = max(report["layers"], key=lambda la: la["cycles"])
    assert report["bottleneck"] == slowest["name"]
    assert report["est_fps"] == pytest.approx(1e9 / (slowest["cycles"] * report["clock_ns"]))
    assert {la["name"].split("_")[0] for la in report["layers"]} >= {"MVAU", "Thresholding"}
    md = (run / "fpga" / "report.md").read_text()
    assert slowest["name"] in md and "| **total** |" in md


def test_vivado_steps_skipped_with_reason_or_run() -> None:
    hardware = json.loads((built_run("tiny-w2a2") / "fpga" / "report.json").read_text())["hardware"]
    if detect_toolchain().complete:
        assert hardware["ran"] is True
    else:
        assert hardware["ran"] is False and "not found" in hardware["reason"]
        assert hardware["skipped_steps"] == HARDWARE_STEPS
        assert hardware["skipped_steps"]["step_synthesize_bitfile"] == "Vivado"


def test_higher_target_fps_unfolds(tmp_path: Path) -> None:
    run = shutil.copytree(built_run("tiny-w2a2"), tmp_path / "run")
    slow = json.loads((run / "fpga" / "report.json").read_text())
    fast = build_run(run, "ZCU104", target_fps=50 * slow["est_fps"])
    assert fast["est_fps"] > 5 * slow["est_fps"]
    assert fast["totals"]["LUT"] > slow["totals"]["LUT"]


def test_unknown_part_fit_is_unknown() -> None:
    report_dir = built_run("tiny-w2a2") / "fpga" / "finn" / "report"
    report = summarize(report_dir, Board("xcku5p", "xcku5p", None, None), 10.0, 1000.0, None)
    assert report["fits"] is None and report["utilization"] is None


def test_cli_bad_board_is_one_sentence() -> None:
    result = CliRunner().invoke(main, ["fpga", "build", str(built_run("tiny-w2a2")),
                                       "--board", "Arty"])
    assert result.exit_code == 2
    assert "unknown board 'Arty'" in result.output and "Traceback" not in result.output


def test_cli_build_with_folding_file(tmp_path: Path) -> None:
    run = shutil.copytree(built_run("tiny-w2a2"), tmp_path / "run")
    folding = json.loads((run / "fpga/finn/report/auto_folding_config.json").read_text())
    folding["MVAU_hls_0"].update(PE=1, SIMD=1)  # first conv fully folded
    (tmp_path / "fold.json").write_text(json.dumps(folding))
    result = CliRunner().invoke(main, ["fpga", "build", str(run), "--board", "KV260",
                                       "--folding", str(tmp_path / "fold.json")])
    assert result.exit_code == 0, result.output
    assert "FPS" in result.output and "report.md" in result.output
    # FINN's ~25 timestamped step lines go to its build log, not into the command's output
    assert "Running step" not in result.output
    assert "Running step: step_qonnx_to_finn" in (
        run / "fpga" / "finn" / "build_dataflow.log").read_text()
    report = json.loads((run / "fpga" / "report.json").read_text())
    assert report["board"] == "KV260" and report["folding"] == str(tmp_path / "fold.json")
    conv0 = next(la for la in report["layers"] if la["name"] == "MVAU_hls_0")
    # 1 input channel × 3×3 kernel × 4 output channels × 14×14 output pixels, one MAC a cycle
    assert conv0["cycles"] == 9 * 4 * 14 * 14


def test_missed_fps_target_says_by_how_much_and_why() -> None:
    report_dir = built_run("tiny-w2a2") / "fpga" / "finn" / "report"
    met = summarize(report_dir, resolve_board("Pynq-Z1"), 10.0, 1000.0, None)
    assert met["target_missed"] is None
    report = summarize(report_dir, resolve_board("Pynq-Z1"), 10.0, 1e12, None)
    note = report["target_missed"]
    assert note.startswith("target 1,000,000,000,000 FPS missed")
    assert f"{report['est_fps']:,.0f} FPS" in note and report["bottleneck"] in note
    assert f"{1e12 / report['est_fps']:,.0f}× short" in note and "folding" in note


def test_folding_file_refusals(tmp_path: Path) -> None:
    run = shutil.copytree(built_run("tiny-w2a2"), tmp_path / "run")
    (run / "fpga" / "report.json").unlink()
    bad = tmp_path / "bad.json"
    bad.write_text('{"MVAU_hls_0": {"PE": 2,}}')
    result = CliRunner().invoke(main, ["fpga", "build", str(run), "--folding", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "is not valid JSON (line 1" in result.output
    layers = json.loads((run / "fpga/finn/report/auto_folding_config.json").read_text())
    bad.write_text(json.dumps({**layers, "MVAU_hls_99": {"PE": 1}, "Conv_7": {"SIMD": 1}}))
    result = CliRunner().invoke(main, ["fpga", "build", str(run), "--folding", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "names layer(s) Conv_7, MVAU_hls_99 that this model does not have" in result.output
    assert "MVAU_hls_0" in result.output  # the real names are listed
    assert not (run / "fpga" / "report.json").exists()
