"""The FINN dataflow build of a run, and its report (resources, cycles, FPS, fit).

QONNX → FINN → tidy → streamline → HW layers → partition → specialise → folding (target FPS or
a folding file) → minimise bit widths → estimates; with Vivado + Vitis HLS installed, on to
code generation, stitched IP, bitstream and the PYNQ deployment package.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tinyssl.fpga.boards import RESOURCES, Board
from tinyssl.fpga.finn_env import detect_toolchain, finn_modules, finn_session
from tinyssl.fpga.options import check_build_options, read_folding, unknown_folding_layers
from tinyssl.runs import atomic_write_json, atomic_write_text

#: The steps past the estimates, and the Xilinx tools each needs.
HARDWARE_STEPS: dict[str, str] = {
    "step_assign_ddr_weight_offsets": "none (runs with the hardware steps)",
    "step_generate_hardware": "Vitis HLS (HLS layers) and Vivado (IP packaging)",
    "step_create_stitched_ip": "Vivado",
    "step_measure_rtlsim_performance": "Vivado (XSI simulator)",
    "step_out_of_context_synthesis": "Vivado",
    "step_prepare_synthesis": "Vivado",
    "step_synthesize_bitfile": "Vivado",
    "step_make_driver": "a stitched IP (Vivado)",
    "step_deployment_package": "a bitfile (Vivado)",
}
DEFAULT_FPS = 1000.0


def finn_dir(run: Path) -> Path:
    return Path(run) / "fpga" / "finn"


def dataflow_config(board: Board, output_dir: Path, target_fps: float, clock_ns: float,
            folding: Path | None, hardware: bool, **overrides: Any) -> Any:
    """FINN's build configuration; `overrides` (e.g. tinyssl.fpga.rtl's RTL variant settings)
    replace the defaults below."""
    import finn.builder.build_dataflow_config as bc

    outputs = [bc.DataflowOutputType.ESTIMATE_REPORTS]
    if hardware:
        steps = list(bc.default_build_dataflow_steps)
        outputs += [bc.DataflowOutputType.STITCHED_IP, bc.DataflowOutputType.BITFILE]
        if board.finn_board:
            outputs += [bc.DataflowOutputType.PYNQ_DRIVER, bc.DataflowOutputType.DEPLOYMENT_PACKAGE]
        else:  # a bare part has no shell to make a driver or deployment package for
            steps = [s for s in steps if s not in ("step_make_driver", "step_deployment_package")]
    else:
        steps = list(bc.estimate_only_dataflow_steps)
    return bc.DataflowBuildConfig(**{
        "output_dir": str(output_dir),
        "synth_clk_period_ns": clock_ns,
        "target_fps": None if folding else max(1, math.ceil(target_fps)),
        "folding_config_file": folding,
        "board": board.finn_board,
        "fpga_part": board.part,
        "shell_flow_type": bc.ShellFlowType.VIVADO_ZYNQ,
        "steps": steps,
        "generate_outputs": outputs,
        "save_intermediate_models": True,
        **overrides,
    })


def build_run(run: Path, board: str = "Pynq-Z1", target_fps: float = DEFAULT_FPS,
              clock_ns: float = 10.0, folding: Path | None = None) -> dict[str, Any]:
    """Run the FINN flow on RUN/model.qonnx.onnx (exported first if missing or stale) and write
    RUN/fpga/report.json + report.md. Returns the report."""
    from tinyssl.export import ensure_exported

    run = Path(run)
    target = check_build_options(board, target_fps, clock_ns, folding)
    qonnx = ensure_exported(run)["qonnx"]
    (run / "fpga" / "report.json").unlink(missing_ok=True)  # stale once the build restarts
    tools = detect_toolchain()
    out = finn_dir(run)
    run_finn(qonnx, dataflow_config(target, out, target_fps, clock_ns, folding,
                                    hardware=tools.complete))
    check_folding_layers(folding, out / "report")
    report = summarize(out / "report", target, clock_ns, target_fps, folding)
    if tools.complete:
        report["hardware"] = {"ran": True, "outputs": str(out)}
    else:
        report["hardware"] = {
            "ran": False,
            "reason": f"{' and '.join(tools.missing())} not found (PATH, $XILINX_VIVADO, "
                      "$XILINX_HLS): stopped after the estimate reports.",
            "skipped_steps": HARDWARE_STEPS,
        }
    write_report(run / "fpga", report)
    return report


def run_finn(qonnx: Path, cfg: Any) -> None:
    """FINN's build of `qonnx` with `cfg`, its failure as one RuntimeError. FINN writes its
    output folder itself (dozens of files, through its own code): it is left to do so, and
    the run's fpga/report.json, written atomically after a build succeeded, is what marks a
    build finished (build_run removes the old one first)."""
    out = Path(cfg.output_dir)
    with finn_session():
        code = finn_modules().build_dataflow_cfg(str(qonnx), cfg)
    if code != 0:
        raise RuntimeError(f"the FINN build failed{_finn_error(out / 'build_dataflow.log')}; "
                           f"see {out / 'build_dataflow.log'}")


def check_folding_layers(folding: Path | None, report_dir: Path) -> None:
    """Refuse a folding file naming layers the model does not have (FINN ignores those
    entries silently: the folding asked for would not be the one built). The names exist only
    once FINN has made the HW layers, so this runs after the build, before the report."""
    if folding is None:
        return
    layers = list(json.loads((report_dir / "estimate_layer_cycles.json").read_text()))
    if unknown := unknown_folding_layers(read_folding(Path(folding)), layers):
        raise ValueError(f"folding config {folding} names layer(s) {', '.join(unknown)} that "
                         f"this model does not have; its layers are {', '.join(layers)}.")


def target_note(report: dict[str, Any], folding_dir: Path) -> str | None:
    """Why the FPS target was missed, or None when met (or folding came from a file). FINN's
    SetFolding raises each layer's PE/SIMD until its cycles meet the target, and stops at the
    most a layer allows (PE ≤ output channels, SIMD ≤ input channels × kernel): past that,
    the slowest layer caps the throughput at clock ÷ its cycles."""
    target, got = report["target_fps"], report["est_fps"]
    if target is None or got >= target * 0.999:
        return None
    folding_file = folding_dir / "auto_folding_config.json"
    attrs = (json.loads(folding_file.read_text()).get(report["bottleneck"], {})
             if folding_file.is_file() else {})
    at = ", ".join(f"{k} {attrs[k]}" for k in ("PE", "SIMD") if k in attrs)
    short = target / got
    return (f"target {target:,.0f} FPS missed: the estimate is {got:,.0f} FPS, "
            f"{short:,.{1 if short < 100 else 0}f}× short, because FINN's folding is at its "
            f"limit: the bottleneck "
            f"{report['bottleneck']} ({at + ': ' if at else ''}as parallel as FINN's SetFolding "
            f"makes it) still takes {report['bottleneck_cycles']:,} cycles per image at "
            f"{1e3 / report['clock_ns']:.0f} MHz.")


def _finn_error(log: Path) -> str:
    """FINN's own one-line error from its build log (it logs instead of raising)."""
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    errors = [line.split("FINN ERROR:", 1)[1].strip() for line in lines if "FINN ERROR:" in line]
    return f": {errors[-1]}" if errors else ""


def summarize(report_dir: Path, board: Board, clock_ns: float, target_fps: float | None,
              folding: Path | None) -> dict[str, Any]:
    """FINN's estimate JSONs → one report: per layer, totals, bottleneck, FPS, fit."""
    resources = json.loads((report_dir / "estimate_layer_resources.json").read_text())
    cycles = json.loads((report_dir / "estimate_layer_cycles.json").read_text())
    perf = json.loads((report_dir / "estimate_network_performance.json").read_text())
    total = resources.pop("total", {})
    totals = {k: float(total.get(k, 0.0)) for k in RESOURCES}
    layers = [{"name": name, "cycles": int(cycles.get(name, 0)),
               **{k: float(res.get(k, 0.0)) for k in RESOURCES}}
              for name, res in resources.items()]
    if board.capacity is None:
        fits, utilization = None, None
    else:
        utilization = {k: totals[k] / board.capacity[k] if board.capacity[k] else
                       (0.0 if totals[k] == 0 else math.inf) for k in RESOURCES}
        fits = all(u <= 1.0 for u in utilization.values())
    report = {
        "board": board.name,
        "part": board.part,
        "clock_ns": clock_ns,
        "target_fps": None if folding else target_fps,
        "folding": str(folding) if folding else "auto (target FPS)",
        "fits": fits,
        "utilization": utilization,
        "capacity": board.capacity,
        "est_fps": float(perf["estimated_throughput_fps"]),
        "latency_ms": float(perf["estimated_latency_ns"]) / 1e6,
        "bottleneck": perf["max_cycles_node_name"],
        "bottleneck_cycles": int(perf["max_cycles"]),
        "totals": totals,
        "layers": layers,
    }
    report["target_missed"] = target_note(report, report_dir)
    return report


def write_report(fpga_dir: Path, report: dict[str, Any]) -> None:
    atomic_write_text(fpga_dir / "report.md", report_markdown(report))
    atomic_write_json(fpga_dir / "report.json", report)  # last: what marks the build done


def report_markdown(r: dict[str, Any]) -> str:
    fits = {True: "yes", False: "**no**", None: "unknown (part not in hw/boards.yaml)"}[r["fits"]]
    lines = [
        f"# FINN estimates: {r['board']} ({r['part']}) at {1e3 / r['clock_ns']:.0f} MHz",
        "",
        f"- estimated throughput: **{r['est_fps']:,.0f} FPS**, latency {r['latency_ms']:.3f} ms",
        f"- bottleneck: {r['bottleneck']} ({r['bottleneck_cycles']:,} cycles)",
        f"- folding: {r['folding']}",
        f"- fits the board: {fits}",
        *([f"- **{r['target_missed']}**"] if r.get("target_missed") else []),
        "",
        "| layer | cycles | LUT | BRAM_18K | URAM | DSP |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for layer in r["layers"]:
        lines.append(f"| {layer['name']} | {layer['cycles']:,} | "
                     + " | ".join(f"{layer[k]:,.0f}" for k in RESOURCES) + " |")
    lines.append("| **total** | | " + " | ".join(f"**{r['totals'][k]:,.0f}**" for k in RESOURCES)
                 + " |")
    if r.get("capacity"):
        lines.append("| capacity | | " + " | ".join(f"{r['capacity'][k]:,}" for k in RESOURCES)
                     + " |")
    hw = r.get("hardware", {})
    if hw and not hw.get("ran"):
        lines += ["", f"Hardware steps not run: {hw['reason']}", ""]
        lines += [f"- {step}: needs {tool}" for step, tool in hw["skipped_steps"].items()]
    return "\n".join(lines) + "\n"
