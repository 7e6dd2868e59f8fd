"""What a Vivado-machine hand-off folder must satisfy for `finn build` to resume the build."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path


def check_handoff(dest: Path, finn_out: Path) -> None:
    """Assert the script, FINN config, resume model, generated sources and manifest of the
    hand-off `dest` agree with each other and with the build in `finn_out`."""
    from finn.builder.build_dataflow import resolve_step_filename
    from finn.builder.build_dataflow_config import DataflowBuildConfig
    from qonnx.core.modelwrapper import ModelWrapper

    cfg = DataflowBuildConfig.construct_from(dest / "build_config.json")
    command = (dest / "resume_build.sh").read_text().strip().splitlines()[-1].split()
    assert command[:2] == ["finn", "build"]
    assert (dest / command[2]).resolve() == (dest / "build_config.json").resolve()
    assert (dest / command[3]).is_file()
    start = command[command.index("--start") + 1]
    assert start == cfg.start_step
    rest = cfg.steps[cfg.steps.index(start):]
    assert rest[1] == "step_generate_hardware" and "step_synthesize_bitfile" in rest
    # the model FINN loads when it resumes at `start` is the one this build left
    with contextlib.chdir(dest):  # `finn build` resolves output_dir beside the config
        resume = (dest / resolve_step_filename(start, cfg, -1)).resolve()
    assert resume.read_bytes() == (finn_out / "intermediate_models" / resume.name).read_bytes()
    report = json.loads((finn_out.parent / "report.json").read_text())
    assert cfg.fpga_part == report["part"] and cfg.synth_clk_period_ns == report["clock_ns"]
    for node in ModelWrapper(str(resume)).graph.node:  # every layer's generated sources
        suffixes = {p.suffix for p in (dest / "generated" / node.name).iterdir()}
        wanted = {".cpp"} if node.domain.endswith(".hls") else {".v", ".sv"}
        assert suffixes & wanted, (node.name, suffixes)
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["start_step"] == start and manifest["files"]
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((dest / rel).read_bytes()).hexdigest() == digest, rel
