"""The RTL stage's result as the verify command's table."""

from __future__ import annotations

from typing import Any


def outcome(row: dict[str, Any]) -> str:
    """bit-exact, or where the first output differs."""
    if row["bit_exact"]:
        return "bit-exact"
    d = row["first_difference"]
    if "note" in d:
        return d["note"]
    return (f"differs: image {d['image']}, output {d['index']}: expected {d['expected']:g}, "
            f"simulated {d['simulated']:g} ({row['mismatches']} outputs differ)")


def _num(v: float | int | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def rtl_table(r: dict[str, Any]) -> str:
    sim = r["simulator"]
    cached = "cached" if sim["cached"] else f"compiled in {sim['compile_seconds']:.0f} s"
    lines = [f"RTL simulation (Verilator {sim['verilator']}; {r['images']} images; "
             f"{sim['lanes']} lanes in one design, {cached}; ran {sim['run_seconds']:.1f} s)",
             f"{'node':<34} {'cycles/image':>12} {'FINN est.':>9}  result"]
    for row in r["nodes"]:
        if not row["simulated"]:
            lines.append(f"{row['node']:<34} {'':>12} {'':>9}  {row['note']}")
        else:
            lines.append(f"{row['node']:<34} {_num(row['cycles_per_image']):>12} "
                         f"{_num(row['finn_estimate_cycles']):>9}  {outcome(row)}")
    res = r.get("resources") or {}
    if res.get("difference"):
        lines.append("RTL-variant build vs default build (FINN estimates): " + ", ".join(
            f"{k} {v:+,.0f}" for k, v in res["difference"].items()))
    for row in r["stitched"]:
        name = f"{row['nodes'][0]} .. {row['nodes'][-1]}"
        fifos = sum(n.startswith("StreamingFIFO") for n in row["nodes"])
        dwcs = sum(n.startswith("StreamingDataWidthConverter") for n in row["nodes"])
        layers = len(row["nodes"]) - fifos - dwcs
        lines.append(f"stitched {layers} layers, {fifos} FIFOs, {dwcs} width converters: "
                     f"{name}: {_num(row['cycles_per_image'])} cycles/image, {outcome(row)}")
    return "\n".join(lines)
