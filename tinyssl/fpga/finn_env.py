"""The one place that knows finn-plus's import-time quirks.

finn-plus is written to run inside its own launcher (`run_finn.py`), which (1) builds the global
settings object and (2) loads the Vivado XSI simulator (`finn.xsi`). Imported as a library on a
machine without Vivado, `finn.builder` fails at import because `build_dataflow_steps` does
`from finn.xsi import SimEngine`, which tries to load Vivado. We therefore:

- call `finn.util.settings.initialize_dummy_settings()` (FINN's own entry point for using its
  transformations outside the launcher), and
- without Vivado, bind the lazily loaded XSI names to a stub that raises a clear error only if
  RTL simulation is actually attempted. Every step up to the estimate reports never uses it;
- without Vivado, let `build_dataflow.get_vivado_root` (called only to stamp the tool version
  into metadata_builder.json at the end of every build) return "none" instead of raising;
- `finn_session()` keeps FINN's step messages in its build log (not the terminal) and undoes
  what `build_dataflow_cfg` does to the process: it replaces sys.stdout/sys.stderr with its
  own loggers and adds handlers to the root logger;
- point FINN_BUILD_DIR (FINN's scratch space for generated code) at the system temp directory
  unless the user set it, instead of a FINN_TMP folder in the current directory.

Everything else in tinyssl imports FINN through `finn_modules()` so this happens exactly once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from types import ModuleType


@dataclass(frozen=True)
class Toolchain:
    """Which Xilinx tools this machine has (FINN steps past the estimates need them)."""

    vivado: str | None
    vitis_hls: str | None

    @property
    def complete(self) -> bool:
        return self.vivado is not None and self.vitis_hls is not None

    def missing(self) -> list[str]:
        return [name for name, path in (("vivado", self.vivado), ("vitis_hls", self.vitis_hls))
                if path is None]


def detect_toolchain() -> Toolchain:
    """Vivado/Vitis HLS on PATH, or under $XILINX_VIVADO / $XILINX_HLS."""

    def find(tool: str, env: str) -> str | None:
        found = shutil.which(tool)
        if found:
            return found
        root = os.environ.get(env)
        candidate = os.path.join(root, "bin", tool) if root else None
        return candidate if candidate and os.path.isfile(candidate) else None

    return Toolchain(find("vivado", "XILINX_VIVADO"), find("vitis_hls", "XILINX_HLS"))


class _NeedsVivado:
    """Stand-in for finn_xsi objects: fails with a reason if RTL simulation is attempted."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError(f"finn.xsi.{self.name} needs Vivado's XSI simulator (not installed).")


@cache
def finn_modules() -> ModuleType:
    """Import and return `finn.builder.build_dataflow` ready for library use."""
    os.environ.setdefault("FINN_BUILD_DIR", os.path.join(tempfile.gettempdir(), "tinyssl-finn"))
    os.makedirs(os.environ["FINN_BUILD_DIR"], exist_ok=True)  # code generation writes there
    import finn.util.settings as settings

    settings.initialize_dummy_settings()
    vivado = detect_toolchain().vivado is not None
    if not vivado:
        import finn.xsi as xsi

        for name in xsi._LAZY_NAMES:  # the names its module __getattr__ would load from Vivado
            setattr(xsi, name, _NeedsVivado(name))
    import finn.builder.build_dataflow as build_dataflow

    if not vivado:
        build_dataflow.get_vivado_root = lambda: "none"
    return build_dataflow


@contextlib.contextmanager
def finn_session() -> Iterator[None]:
    """Run a FINN build with its messages in its build log only, and give the process its
    stdout, stderr and logging back afterwards.

    `build_dataflow_cfg` wraps stdout/stderr in its PrintLogger, which copies every line
    (about 25 timestamped "Running step …" lines per build) to the build log *and* the
    terminal, where they land in the middle of `fit`, `demo` and `verify` output. It leaves
    streams that are PrintLoggers already alone, so we hand it PrintLoggers whose terminal
    side is os.devnull: the lines still reach build_dataflow.log (and a failed build's error
    is read from there, fpga/build.py)."""
    build_dataflow = finn_modules()
    stdout, stderr = sys.stdout, sys.stderr
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    log = logging.getLogger("build_dataflow")  # the logger FINN's own PrintLoggers write to
    with open(os.devnull, "w") as quiet:
        sys.stdout = build_dataflow.PrintLogger(log, logging.INFO, quiet)
        sys.stderr = build_dataflow.PrintLogger(log, logging.ERROR, quiet)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = stdout, stderr
            root.handlers[:] = handlers
            root.setLevel(level)
