"""A hand-off folder for a colleague with Vivado + Vitis HLS: finish the bitstream without tinyssl.

What tinyssl's build left (the specialised, folded accelerator after the estimate reports) plus
FINN's own build configuration for the rest of the flow, so `finn build` (finn-plus's command
line) resumes at step_assign_ddr_weight_offsets (the step before FINN's code generation,
step_generate_hardware) and runs code generation, HLS synthesis, FIFO sizing, stitched IP,
synthesis, bitfile, PYNQ driver and deployment package. Nothing of tinyssl, PyTorch or Brevitas
is needed there: only finn-plus (the same version) and the Xilinx tools.

The folder also keeps the HLS and RTL sources FINN generates for this model (PrepareIP, run here
without Vivado) for review; FINN regenerates them on the Vivado machine, so they are not inputs.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from tinyssl.fpga.boards import resolve_board
from tinyssl.fpga.build import DEFAULT_FPS, dataflow_config
from tinyssl.runs import atomic_copy, atomic_copytree, atomic_write_json, atomic_write_text

#: FINN resumes here; the model it loads is the one saved after the previous step.
START_STEP = "step_assign_ddr_weight_offsets"
RESUME_MODEL = "step_generate_estimate_reports.onnx"
BUILD_DIR = "finn_build"
SCRIPT = "resume_build.sh"

_SCRIPT = """#!/usr/bin/env bash
# Finish the FINN build of {run_name} ({variant} build) on a machine with Vivado + Vitis HLS.
# Needs: finn-plus=={finn} (pip install finn-plus=={finn}), Vivado and Vitis HLS on PATH
# (source their settings64.sh). Resumes FINN at {start} from {build}/intermediate_models/{model};
# outputs (stitched IP, bitfile, PYNQ driver, deployment package) land in {build}/.
set -euo pipefail
cd "$(dirname "$0")"
for tool in vivado vitis_hls; do
  command -v "$tool" >/dev/null || {{ echo "$tool not on PATH (settings64.sh)" >&2; exit 1; }}
done
installed=$(python3 -c 'import importlib.metadata as m; print(m.version("finn-plus"))')
[ "$installed" = "{finn}" ] || {{ echo "finn-plus $installed, needs {finn}" >&2; exit 1; }}
finn build {config} {qonnx} --start {start}
"""


def write_handoff(run: Path, finn_out: Path, dest: Path, variant: str,
                  overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the hand-off folder `dest` for the FINN build in `finn_out` (its report.json one
    level up says for which board, clock and throughput); returns its manifest."""
    import finn.builder.build_dataflow_config as bc
    from finn.builder.build_dataflow_steps import step_hw_codegen
    from qonnx.core.modelwrapper import ModelWrapper

    from tinyssl.fpga.finn_env import finn_modules
    from tinyssl.fpga.rtl import keep_generated_code, layer_styles

    run, dest = Path(run), Path(dest)
    report = json.loads((finn_out.parent / "report.json").read_text())
    resume = finn_out / "intermediate_models" / RESUME_MODEL
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"hand-off folder {dest} exists and is not empty; pick a new one.")
    finn_modules()
    cfg = dataflow_config(resolve_board(report["board"]), Path(BUILD_DIR),
                          report["target_fps"] or DEFAULT_FPS, report["clock_ns"], None,
                          hardware=True, start_step=START_STEP, **(overrides or {}))
    if report["target_fps"] is None:  # built from a folding file: name the copy kept here
        cfg.target_fps, cfg.folding_config_file = None, "folding_config.json"
    # Each file is written atomically and manifest.json last: a hand-off without a manifest
    # is unfinished. (The folder is not built aside and renamed in: the generated code's
    # model holds absolute paths.)
    (dest / BUILD_DIR / "intermediate_models").mkdir(parents=True)
    atomic_copy(resume, dest / BUILD_DIR / "intermediate_models" / RESUME_MODEL)
    atomic_copy(finn_out / "intermediate_models" / "dataflow_parent.onnx",
                dest / BUILD_DIR / "intermediate_models" / "dataflow_parent.onnx")
    atomic_copy(run / "model.qonnx.onnx", dest / "model.qonnx.onnx")
    atomic_copy(finn_out / "report" / "auto_folding_config.json", dest / "folding_config.json")
    atomic_copytree(finn_out / "report", dest / "estimates")
    atomic_write_json(dest / "build_config.json", json.loads(cfg.to_json()))
    # FINN's code generation here (no Vivado needed) so the sources can be read and reviewed
    generated = step_hw_codegen(ModelWrapper(str(resume)), cfg)
    keep_generated_code(generated, dest / "generated")
    _copy_rtllib(generated, dest / "generated" / "finn-rtllib")
    finn = metadata.version("finn-plus")
    script = dest / SCRIPT
    atomic_write_text(script, _SCRIPT.format(run_name=run.name, variant=variant, finn=finn,
                                     start=START_STEP, build=BUILD_DIR, model=RESUME_MODEL,
                                     config="build_config.json", qonnx="model.qonnx.onnx"))
    script.chmod(0o755)
    outputs = [o.value if isinstance(o, bc.DataflowOutputType) else str(o)
               for o in cfg.generate_outputs]
    manifest = {
        "run": str(run.resolve()), "variant": variant, "finn_plus": finn,
        "board": report["board"], "part": report["part"], "clock_ns": report["clock_ns"],
        "start_step": START_STEP, "resume_model": f"{BUILD_DIR}/intermediate_models/{RESUME_MODEL}",
        "outputs": outputs, "layers": layer_styles(dest / BUILD_DIR / "intermediate_models"
                                                    / RESUME_MODEL),
        "files": {str(p.relative_to(dest)): _sha256(p) for p in sorted(dest.rglob("*"))
                  if p.is_file()},
    }
    atomic_write_text(dest / "README.md", _readme(manifest))
    atomic_write_json(dest / "manifest.json", manifest)
    return manifest


def _copy_rtllib(model: Any, dest: Path) -> None:
    """The finn-rtllib files the RTL layers include, so the Verilog can be read in one place."""
    from finn.util.settings import get_settings
    from qonnx.custom_op.registry import getCustomOp

    from tinyssl.verify.rtl_designs import SIMULATED, layer_of

    lib = Path(get_settings().finn_rtllib).resolve()
    for node in model.graph.node:
        if not node.domain.endswith(".rtl"):
            continue
        inst = getCustomOp(node)
        files = (layer_of(inst).files if node.op_type in SIMULATED  # with the weight streamer
                 else inst.get_rtl_file_list(abspath=True))
        for f in map(Path, files):
            f = f.resolve()
            if f.is_relative_to(lib):
                (dest / f.relative_to(lib)).parent.mkdir(parents=True, exist_ok=True)
                atomic_copy(f, dest / f.relative_to(lib))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _readme(m: dict[str, Any]) -> str:
    layers = ", ".join(f"{n} ({s})" for n, s in m["layers"].items())
    extra = ", PYNQ driver and deployment package" if "pynq_driver" in m["outputs"] else ""
    return f"""# FINN hand-off: {Path(m['run']).name} ({m['variant']} build)

Finish the accelerator on a machine with Vivado and Vitis HLS:

    pip install finn-plus=={m['finn_plus']}
    source <Vivado>/settings64.sh; source <Vitis_HLS>/settings64.sh
    ./{SCRIPT}

It runs `finn build build_config.json model.qonnx.onnx --start {m['start_step']}`: FINN loads
`{m['resume_model']}` (the specialised, folded accelerator for {m['board']} / {m['part']} at
{m['clock_ns']} ns) and continues with code generation, HLS synthesis, FIFO sizing, stitched
IP, synthesis and bitfile{extra} into `{BUILD_DIR}/`.

- `build_config.json`: FINN's DataflowBuildConfig for the rest of the flow
- `folding_config.json`, `estimates/`: the folding and FINN's estimates of this build
- `generated/<layer>/`: the HLS (.cpp, .tcl) and RTL (.v, .sv, .dat) sources FINN generated for
  each layer, with the finn-rtllib files they include in `generated/finn-rtllib/` (for review;
  FINN regenerates them there)
- `manifest.json`: versions, layers and a sha256 of every file

Layers: {layers}
"""
