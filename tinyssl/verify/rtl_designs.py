"""A simulated design from FINN's generated RTL: one layer or a stitched chain of layers.

FINN writes each RTL layer (PrepareIP) as a wrapper module plus finn-rtllib sources. This module
gathers those sources, applies the Verilator workarounds below to copies, and writes one top
module, `tinyssl_sim_top`, that chains the layers stream to stream (out0_V of one into in0_V of
the next) the way FINN's stitched IP connects them, each MVAU fed by its own weight streamer
(memstream, reading the generated memblock.dat) as in FINN's IP-integrator hierarchy. Every other
input port (AXI-lite configuration, set selection) is tied to 0, which is FINN's default use.

Verilator workarounds (text patches on copies; the installed finn-plus is never edited):
- mvu/add_multi.sv declares the constant function init_leaf_loads() (and its return type) inside
  a generate block; Verilator 5 cannot evaluate it there to size LEAF_LOAD, so both move to
  module scope, unchanged.
- fifo/fifo.sv computes its memory geometry with a constant function returning a struct
  (INIT_ABITS), which Verilator 5 cannot evaluate; it becomes one int-valued function called once
  per field, same arithmetic.
- FINN's FIFO wrapper instantiates fifo_gauge (the unbounded FIFO FINN's FIFO sizing measures
  with) under FINN_SIMULATION; the copy instantiates fifo.sv, the FIFO that is built.
- memblock.dat / thresholds are loaded with $readmemh from absolute (memstream) or ./-relative
  (thresholding) paths; the memstream path is rewritten to ./<node>_memblock.dat so the design
  text does not depend on where the run lives, and the simulator runs where the .dat files are.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: FINN op types simulated here (generic op name after the _rtl suffix).
SIMULATED = ("Thresholding_rtl", "ConvolutionInputGenerator_rtl", "MVAU_rtl", "FMPadding_rtl",
             "StreamingDataWidthConverter_rtl", "StreamingFIFO_rtl")

_ADD_MULTI_OLD = """	uwire [SUM_WIDTH-1:0]  sum0;
	if(L < 1) begin : genTrivial
		assign	sum0 = arg[0];
	end : genTrivial
	else begin : genTree
		localparam int unsigned  D = L < DEPTH? L : DEPTH;  // Pipeline stages absorbed by tree

		// Compute the count of decendents for all nodes in the reduction trees.
		typedef int unsigned  leaf_load_t[2*N-1];
		function leaf_load_t init_leaf_loads();
			automatic leaf_load_t  res;
			for(int unsigned  i = 2*N-1; i-- > N-1;)  res[i] = 1;
			for(int unsigned  i =   N-1; i-- >   0;)  res[i] = res[2*i+1] + res[2*i+2];
			return  res;
		endfunction : init_leaf_loads
		localparam leaf_load_t   LEAF_LOAD = init_leaf_loads();
"""
_ADD_MULTI_NEW = """	// tinyssl: init_leaf_loads() moved out of genTree for Verilator
	typedef int unsigned  leaf_load_t[2*N-1];
	function leaf_load_t init_leaf_loads();
		automatic leaf_load_t  res;
		for(int unsigned  i = 2*N-1; i-- > N-1;)  res[i] = 1;
		for(int unsigned  i =   N-1; i-- >   0;)  res[i] = res[2*i+1] + res[2*i+2];
		return  res;
	endfunction : init_leaf_loads

	uwire [SUM_WIDTH-1:0]  sum0;
	if(L < 1) begin : genTrivial
		assign	sum0 = arg[0];
	end : genTrivial
	else begin : genTree
		localparam int unsigned  D = L < DEPTH? L : DEPTH;  // Pipeline stages absorbed by tree

		localparam leaf_load_t   LEAF_LOAD = init_leaf_loads();
"""
_FIFO_OLD = """	function abits_t INIT_ABITS();
		automatic abits_t  abits = '{ lo: $clog2(DEPTH_REQ), hi: 0 };
		if(abits.lo > MIN_ABITS) begin
			// Consider Decomposition into lo + hi
			automatic int unsigned  hi_abits = $clog2(DEPTH_REQ - 2**(abits.lo-1));
			if(hi_abits < abits.lo - 1) begin
				abits.lo--;
				abits.hi = hi_abits < 1? 1 : hi_abits;
			end
		end
		return  abits;
	endfunction : INIT_ABITS
	localparam abits_t       ABITS      = INIT_ABITS();
"""
_FIFO_NEW = """	// tinyssl: INIT_ABITS() as one int-valued function for Verilator
	// (it cannot evaluate a constant function returning a struct); same arithmetic
	function int unsigned INIT_ABITS_PART(bit hi);
		automatic int unsigned  lo = $clog2(DEPTH_REQ);
		automatic int unsigned  hi_bits = 0;
		if(lo > MIN_ABITS) begin
			// Consider Decomposition into lo + hi
			automatic int unsigned  hi_abits = $clog2(DEPTH_REQ - 2**(lo-1));
			if(hi_abits < lo - 1) begin
				lo--;
				hi_bits = hi_abits < 1? 1 : hi_abits;
			end
		end
		return  hi? hi_bits : lo;
	endfunction : INIT_ABITS_PART
	localparam abits_t       ABITS      = '{ lo: INIT_ABITS_PART(0), hi: INIT_ABITS_PART(1) };
"""
_GAUGE_OLD = "`ifdef FINN_SIMULATION\n\tfifo_gauge #("
_GAUGE_NEW = "`ifdef TINYSSL_FIFO_GAUGE  // tinyssl: simulate fifo.sv\n\tfifo_gauge #("
PATCHES: dict[str, list[tuple[str, str]]] = {"add_multi.sv": [(_ADD_MULTI_OLD, _ADD_MULTI_NEW)],
                                             "fifo.sv": [(_FIFO_OLD, _FIFO_NEW)]}
_INIT_FILE = re.compile(r'(parameter\s+INIT_FILE\s*=\s*)"[^"]*/memblock\.dat"')
_PORT = re.compile(r"^\s*(input|output)\b\s*(?:wire|logic)?\s*(\[[^\]]*\])?\s*(\w+)\s*,?", re.M)


class UnsupportedNode(ValueError):
    """A node this module cannot turn into a design."""


def patched(name: str, text: str) -> str:
    """`text` of finn-rtllib file `name` (or of a generated FIFO wrapper) with its Verilator
    workaround, if any."""
    wrapper = name.startswith("StreamingFIFO_rtl") and name.endswith(".v")
    for old, new in [(_GAUGE_OLD, _GAUGE_NEW)] if wrapper else PATCHES.get(name, []):
        if text.count(old) != 1:
            raise UnsupportedNode(f"the Verilator patch for {name} no longer applies (finn-plus "
                                  "changed the file); see tinyssl/verify/rtl_designs.py.")
        text = text.replace(old, new)
    return text


@dataclass
class Layer:
    """One RTL node as the simulated design sees it."""

    name: str
    op_type: str
    module: str  # its wrapper module
    files: list[Path]  # Verilog sources, compile order
    code_dir: Path
    in_width: int  # padded TDATA widths
    out_width: int
    weight_width: int = 0  # MVAU: padded weight stream width (memstream → in1_V)


def layer_of(inst: Any) -> Layer:
    """The Layer of a specialised FINN RTL node (its code_gen_dir_ipgen filled by PrepareIP)."""
    node = inst.onnx_node
    if node.op_type not in SIMULATED:
        raise UnsupportedNode(f"{node.name}: {node.op_type} has no RTL simulation here.")
    code_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
    if not code_dir.is_dir():
        raise UnsupportedNode(f"{node.name}: no generated RTL in {code_dir} (run PrepareIP).")
    # fifo_gauge.sv is not instantiated once the FIFO wrapper is patched (above)
    files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)
             if Path(f).name != "fifo_gauge.sv"]
    weight_width = 0
    if node.op_type == "MVAU_rtl":
        if inst.get_nodeattr("mem_mode") != "internal_decoupled":
            raise UnsupportedNode(f"{node.name}: only internal_decoupled weights are simulated.")
        from finn.util.settings import get_settings

        lib = Path(get_settings().finn_rtllib)
        files += [code_dir / f"{node.name}_memstream_wrapper.v", lib / "axi/hdl/axilite.sv",
                  lib / "memstream/hdl/memstream_axi.sv", lib / "memstream/hdl/memstream.sv"]
        weight_width = inst.get_instream_width_padded(1)
    return Layer(node.name, node.op_type, inst.get_nodeattr("gen_top_module") or node.name,
                 files, code_dir, inst.get_instream_width_padded(0),
                 inst.get_outstream_width_padded(0), weight_width)


def _ports(text: str, module: str) -> list[tuple[str, str, str]]:
    """(direction, range, name) of `module`'s ports, from its ANSI header."""
    start = re.search(rf"\bmodule\s+{re.escape(module)}\b", text)
    if not start:
        raise UnsupportedNode(f"module {module} not found in its wrapper.")
    pos = start.end()
    if text[pos:].lstrip().startswith("#"):  # skip the parameter list
        pos = _matching_paren(text, text.index("(", pos))
    open_at = text.index("(", pos)
    header = text[open_at + 1:_matching_paren(text, open_at) - 1]
    return [(m[1], m[2] or "", m[3]) for m in _PORT.finditer(header)]


def _matching_paren(text: str, open_at: int) -> int:
    """The index just past the parenthesis closing the one at `open_at`."""
    depth = 0
    for pos in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[pos], 0)
        if depth == 0:
            return pos + 1
    raise UnsupportedNode("unbalanced parentheses in a module header.")


def _instance(module: str, ports: list[tuple[str, str, str]], tag: str,
              wired: dict[str, str]) -> str:
    conns = []
    for direction, _rng, port in ports:
        if port in wired:
            conns.append(f".{port}({wired[port]})")
        elif direction == "input":
            conns.append(f".{port}('0)")
    return f"  {module} {tag} (\n    " + ",\n    ".join(conns) + "\n  );\n"


def _stream(prefix: str, width: int) -> str:
    return (f"  wire [{width - 1}:0] {prefix}_TDATA;\n  wire {prefix}_TVALID;\n"
            f"  wire {prefix}_TREADY;\n")


def _axis(port: str, wire: str) -> dict[str, str]:
    return {f"{port}_{s}": f"{wire}_{s}" for s in ("TDATA", "TVALID", "TREADY")}


def lane_width(lanes: list[list[Layer]]) -> int:
    """Bits per lane on the top's buses: the widest stream, rounded up to 32."""
    widest = max(max(chain[0].in_width, chain[-1].out_width) for chain in lanes)
    return -(-widest // 32) * 32


def top_module(lanes: list[list[Layer]], texts: dict[Path, str]) -> str:
    """tinyssl_sim_top: one independent lane per chain (a chain of one layer is that layer
    alone), each chain wired stream to stream, MVAUs with their weight streamer."""
    n, w = len(lanes), lane_width(lanes)
    lines = ["// generated by tinyssl: lanes "
             + "; ".join(" -> ".join(la.name for la in chain) for chain in lanes) + "\n",
             "module tinyssl_sim_top (\n  input ap_clk,\n  input ap_rst_n,\n",
             f"  input [{n * w - 1}:0] in_TDATA,\n  input [{n - 1}:0] in_TVALID,\n",
             f"  output [{n - 1}:0] in_TREADY,\n  output [{n * w - 1}:0] out_TDATA,\n",
             f"  output [{n - 1}:0] out_TVALID,\n  input [{n - 1}:0] out_TREADY\n);\n"]
    clocks = {"ap_clk": "ap_clk", "ap_clk2x": "ap_clk", "ap_rst_n": "ap_rst_n"}
    for k, chain in enumerate(lanes):
        for i, la in enumerate(chain[:-1]):
            if la.out_width != chain[i + 1].in_width:
                raise UnsupportedNode(f"{la.name} ({la.out_width} bits) cannot feed "
                                      f"{chain[i + 1].name} ({chain[i + 1].in_width} bits).")
        for i, la in enumerate(chain):
            lines.append(_stream(f"l{k}_s{i}", la.in_width))
        last = len(chain)
        lines.append(_stream(f"l{k}_s{last}", chain[-1].out_width))
        lines.append(f"  assign l{k}_s0_TDATA = in_TDATA[{k * w} +: {chain[0].in_width}];\n"
                     f"  assign l{k}_s0_TVALID = in_TVALID[{k}];\n"
                     f"  assign in_TREADY[{k}] = l{k}_s0_TREADY;\n"
                     f"  assign out_TDATA[{k * w} +: {w}] = {w}'(l{k}_s{last}_TDATA);\n"
                     f"  assign out_TVALID[{k}] = l{k}_s{last}_TVALID;\n"
                     f"  assign l{k}_s{last}_TREADY = out_TREADY[{k}];\n")
        for i, la in enumerate(chain):
            wired = {**clocks, **_axis("in0_V", f"l{k}_s{i}"), **_axis("out0_V", f"l{k}_s{i + 1}")}
            wrapper = next(f for f in la.files if _defines(texts[f], la.module))
            if la.weight_width:
                lines.append(_stream(f"l{k}_w{i}", la.weight_width))
                wired.update(_axis("in1_V", f"l{k}_w{i}"))
                ms = f"{la.name}_memstream_wrapper"
                ms_ports = _ports(texts[la.code_dir / f"{ms}.v"], ms)
                lines.append(_instance(ms, ms_ports, f"l{k}_u{i}_weights", {
                    **clocks, "m_axis_0_tdata": f"l{k}_w{i}_TDATA",
                    "m_axis_0_tvalid": f"l{k}_w{i}_TVALID",
                    "m_axis_0_tready": f"l{k}_w{i}_TREADY"}))
            lines.append(_instance(la.module, _ports(texts[wrapper], la.module),
                                   f"l{k}_u{i}", wired))
    return "".join(lines) + "endmodule\n"


def _defines(text: str, module: str) -> bool:
    return re.search(rf"\bmodule\s+{re.escape(module)}\b", text) is not None


def design_sources(lanes: list[list[Layer]]) -> dict[str, str]:
    """File name → patched Verilog text for the lanes, shared finn-rtllib files once, in
    compile order (packages first), plus the generated top."""
    texts: dict[Path, str] = {}
    for la in (la for chain in lanes for la in chain):
        for f in la.files:
            texts.setdefault(f, f.read_text())
    sources: dict[str, str] = {}
    for path, text in sorted(texts.items(), key=lambda kv: not kv[0].name.endswith("_pkg.sv")):
        name = path.name
        if name in sources and sources[name] != text:
            raise UnsupportedNode(f"two different files named {name} in one design.")
        text = _INIT_FILE.sub(lambda m, n=path.name: m[1] + '"./' + n.replace(
            "_memstream_wrapper.v", "_memblock.dat") + '"', text)
        sources[name] = patched(name, text)
    sources[TOP_FILE] = top_module(lanes, texts)
    return sources


TOP_FILE = "tinyssl_sim_top.sv"


def stage_data(lanes: list[list[Layer]], data_dir: Path) -> None:
    """Copy the layers' memory files where the simulator runs: thresholds as FINN named them
    (<node>_threshs_<pe>_<stage>.dat), weights as <node>_memblock.dat. `data_dir` is the
    simulation's scratch folder, thrown away after the run: plain copies suffice."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for la in {la.name: la for chain in lanes for la in chain}.values():
        for dat in la.code_dir.glob("*.dat"):
            target = f"{la.name}_memblock.dat" if dat.name == "memblock.dat" else dat.name
            shutil.copy(dat, data_dir / target)
