"""The accelerator with FINN's RTL layer variants wherever it has them, and its generated Verilog.

The default build (tinyssl.fpga.build) lets FINN pick: thresholds merged into HLS MVAUs. This
build asks for RTL everywhere: standalone thresholds (Thresholding_rtl; the RTL MVAU cannot
absorb them) and `preferred_impl_style = rtl` for every layer (FINN keeps HLS where no RTL
variant exists: Pool, binary XNOR MVAUs, elementwise ops), then runs FINN's code generation
(PrepareIP, no Vivado needed) so tinyssl.verify.rtl_stage can simulate the Verilog.

FINN writes generated code into temporary folders; they are copied into RUN/fpga/rtl/code/<node>
and RUN/fpga/rtl/accelerator.onnx points at the copies, so a run keeps what was simulated.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tinyssl.fpga.boards import RESOURCES
from tinyssl.fpga.build import (
    DEFAULT_FPS,
    check_folding_layers,
    dataflow_config,
    run_finn,
    summarize,
    write_report,
)
from tinyssl.fpga.options import check_build_options
from tinyssl.runs import atomic_copy, atomic_write_bytes, atomic_write_json, atomic_write_text

#: FINN's specialise-layers config: prefer RTL for every op type (FINN falls back to HLS).
PREFER_RTL = {"Defaults": {"preferred_impl_style": ["rtl", "all"]}}
#: The FINN build settings that make this variant (also written into the hand-off config).
RTL_SETTINGS = {"standalone_thresholds": True}


def rtl_dir(run: Path) -> Path:
    return Path(run) / "fpga" / "rtl"


def accelerator_model(run: Path) -> Path:
    """The RTL build's specialised, folded accelerator graph, code paths into RUN/fpga/rtl/code."""
    return rtl_dir(run) / "accelerator.onnx"


def build_rtl(run: Path, board: str = "Pynq-Z1", target_fps: float = DEFAULT_FPS,
              clock_ns: float = 10.0, folding: Path | None = None) -> dict[str, Any]:
    """Build RUN with RTL variants (estimates + code generation) into RUN/fpga/rtl and write its
    report.{json,md}, with the resource difference to the default build when there is one."""
    import finn.builder.build_dataflow_config as bc

    from tinyssl.export import ensure_exported

    run = Path(run)
    target = check_build_options(board, target_fps, clock_ns, folding)
    qonnx = ensure_exported(run)["qonnx"]
    out = rtl_dir(run)
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "specialize_layers.json"
    atomic_write_json(spec, PREFER_RTL)
    finn_out = out / "finn"
    run_finn(qonnx, dataflow_config(
        target, finn_out, target_fps, clock_ns, folding, hardware=False,
        specialize_layers_config_file=str(spec),
        steps=[*bc.estimate_only_dataflow_steps, "step_hw_codegen"], **RTL_SETTINGS))
    check_folding_layers(folding, finn_out / "report")
    from qonnx.core.modelwrapper import ModelWrapper

    generated = ModelWrapper(str(finn_out / "intermediate_models" / "step_hw_codegen.onnx"))
    atomic_write_bytes(accelerator_model(run),
                       keep_generated_code(generated, out / "code").model.SerializeToString())
    atomic_copy(finn_out / "intermediate_models" / "dataflow_parent.onnx",
                out / "dataflow_parent.onnx")
    report = summarize(finn_out / "report", target, clock_ns, target_fps, folding)
    report["variant"] = "rtl (standalone thresholds, RTL preferred)"
    report["impl"] = layer_styles(accelerator_model(run))
    default = run / "fpga" / "report.json"
    if default.is_file():
        base = json.loads(default.read_text())
        report["default_totals"] = base["totals"]
        report["vs_default"] = {k: report["totals"][k] - base["totals"][k] for k in RESOURCES}
    write_report(out, report)
    if "vs_default" in report:
        atomic_write_text(out / "report.md", (out / "report.md").read_text()
                          + "\nRTL variants vs the default build (HLS MVAUs with merged "
                          "thresholds): " + ", ".join(f"{k} {report['vs_default'][k]:+,.0f}"
                                                      for k in RESOURCES) + "\n")
    return report


def keep_generated_code(model: Any, code_dir: Path) -> Any:
    """Copy every node's generated code (code_gen_dir_ipgen) into code_dir/<node> and point
    the model (a ModelWrapper, changed in place and returned) at the copies. The copies hold
    absolute paths, so they are made in place, not renamed in: the model pointing at them is
    written (atomically) after them, and a model is what marks them complete."""
    from qonnx.custom_op.registry import getCustomOp

    if code_dir.exists():
        shutil.rmtree(code_dir)
    for node in model.graph.node:
        inst = getCustomOp(node)
        src = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
        if src.is_dir():
            shutil.copytree(src, code_dir / node.name)
            inst.set_nodeattr("code_gen_dir_ipgen", str((code_dir / node.name).resolve()))
    return model


def layer_styles(model_path: Path) -> dict[str, str]:
    """node name → "rtl" or "hls", as specialised."""
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(str(model_path))
    return {n.name: n.domain.rpartition(".")[2] for n in model.graph.node}
