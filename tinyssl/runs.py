"""Run directories and checkpoints: nothing is lost, nothing is overwritten.

Layout (each stage appends, none rewrites another run's files):
    RUN/config.yaml  split.npz  metrics.jsonl  env.json  checkpoints/{last,best}.pt
    RUN/model.qonnx.onnx  model.qcdq.onnx  fpga/  verify.json  report.md
A checkpoint is a dict with at least:
    "model": Net state_dict, "model_spec": tinyssl.models.ModelSpec fields, "classes": list[str].
"""

from __future__ import annotations

import io
import json
import os
import pickle
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# torch is imported inside the checkpoint functions: the CLI checks its options (and writes
# atomic files) without paying the seconds torch takes to import.


def new_run_dir(root: Path, name: str) -> Path:
    """Create a fresh directory `root/name-YYYYmmdd-HHMMSS[-k]`; mkdir is atomic, so
    concurrent processes never share one."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1000):
        path = root / (f"{name}-{stamp}" + (f"-{k}" if k else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run directory under {root}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename over the target. The
    file gets the permissions a plain open() would give (mkstemp's are 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save, atomically: an interrupted write never leaves a broken checkpoint."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def _readable(path: Path) -> bool:
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=False)
        return True
    except Exception:  # whatever the failure, the file cannot stand in
        return False


def load_checkpoint(path: Path) -> dict[str, Any]:
    """torch.load, or one sentence naming the file when it is truncated or corrupt (a disk
    filled up, a copy cut short) and saying whether the other checkpoint can stand in."""
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as e:
        other = path.with_name("best.pt" if path.name == "last.pt" else "last.pt")
        hint = (f"{other.name} beside it is intact: move {path.name} away and it is used "
                "instead (training resumes only from last.pt)." if other.is_file()
                and _readable(other) else "no intact checkpoint is left: train the run again.")
        raise ValueError(f"{path} is truncated or corrupt ({type(e).__name__}); {hint}"
                         ) from None


def find_checkpoint(run: Path) -> Path:
    """The checkpoint a downstream stage should use: best, else last."""
    for name in ("best.pt", "last.pt"):
        if (run / "checkpoints" / name).is_file():
            return run / "checkpoints" / name
    raise FileNotFoundError(f"{run} holds no checkpoints/best.pt or checkpoints/last.pt")


def environment() -> dict[str, Any]:
    """What a run needs to be reproduced: versions, device, host."""
    import brevitas
    import numpy
    import torch

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "brevitas": brevitas.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
        "argv": sys.argv,
    }


def read_json(path: Path) -> dict[str, Any]:
    """A run file such as summary.json or fpga/report.json; {} when that stage has not run."""
    return json.loads(path.read_text()) if path.is_file() else {}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """metrics.jsonl, pseudolabels.jsonl: one record per line; [] when absent."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
