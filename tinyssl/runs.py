"""Run directories and checkpoints: nothing is lost, nothing is overwritten.

Every file the project writes goes through `atomic_output` (or the helpers built on it):
a temporary file in the same folder, fsync, rename. A crash, `kill -9` or full disk leaves the
old file or the new one, never a truncated one. Checkpoints are zip archives whose members
carry a CRC32 (torch writes it, Python's zipfile checks it), so a same-size corruption is
caught on load too.

Layout (each stage appends, none rewrites another run's files):
    RUN/config.yaml  split.npz  metrics.jsonl  env.json  checkpoints/{last,best}.pt
    RUN/model.qonnx.onnx  model.qcdq.onnx  fpga/  verify.json  report.md
A checkpoint is a dict with at least:
    "model": Net state_dict, "model_spec": tinyssl.models.ModelSpec fields, "classes": list[str].
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

#: Run directories this process created (new_run_dir), so that a command failing on an OS
#: error can remove the ones that hold nothing complete (discard_unfinished_runs).
_CREATED: list[Path] = []


def new_run_dir(root: Path, name: str) -> Path:
    """Create a fresh directory `root/name-YYYYmmdd-HHMMSS[-k]`; mkdir is atomic, so
    concurrent processes never share one."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1000):
        path = root / (f"{name}-{stamp}" + (f"-{k}" if k else ""))
        try:
            path.mkdir()
            _CREATED.append(path)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run directory under {root}")


def discard_unfinished_runs() -> tuple[list[Path], list[Path]]:
    """After a failed command: remove the run directories it created that hold no checkpoint
    (a config and a split alone look like a run but cannot be resumed or used). Returns
    (removed, kept): the kept ones hold a checkpoint but did not finish, and resume with
    `--resume`. Finished ones (e.g. select's cached encoder) are left alone."""
    removed, kept = [], []
    while _CREATED:
        run = _CREATED.pop()
        if not run.is_dir() or any((run / f).is_file() for f in ("summary.json", "fit.json")):
            continue
        if any(run.rglob("*.pt")):
            kept.append(run)
        else:
            shutil.rmtree(run, ignore_errors=True)
            removed.append(run)
    return removed, kept


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A binary file to write `path` through: a temporary file in the same directory,
    fsynced and renamed over `path` when the block ends, removed when it raises. The file
    gets the permissions a plain open() would give (mkstemp's are 0600). An OSError always
    names `path` (a failed write() alone names no file). The one implementation of an
    atomic write; `atomic_write_bytes` and the helpers below are built on it."""
    path = Path(path)
    with naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_output(path) as f:
        f.write(data)


@contextlib.contextmanager
def naming(path: Path) -> Iterator[None]:
    """An OSError raised inside names `path`, not a temporary sibling (".NAME.xxxx") nor
    nothing (write() names no file): the path the user gave is the one to act on."""
    try:
        yield
    except OSError as e:
        name = Path(e.filename).name if e.filename else None
        if e.errno is not None and (name is None or name.startswith(f".{Path(path).name}.")):
            raise type(e)(e.errno, e.strerror, str(path)) from e
        raise


def _free_mb(path: Path) -> str:
    for p in (path, *path.parents):
        try:
            return f"{shutil.disk_usage(p).free / 2**20:.1f} MB free"
        except OSError:
            continue
    return "free space unknown"


def describe_os_error(e: OSError) -> str:
    """What the machine refused, as one clause: which file, why, and what to do (read-only,
    disk full with the MB left on that file system, quota, permission; else the OS's words)."""
    path = Path(e.filename) if e.filename else None
    where = f"cannot write {path}" if path else "a file operation failed"
    if e.errno == errno.EROFS:
        what = ("the file system is read-only: write somewhere else (another --runs or --out "
                "folder) or remount it read-write")
    elif e.errno == errno.ENOSPC:
        what = (f"the disk is full ({_free_mb(path) if path else 'free space unknown'} on that "
                "file system): free some space or choose another --runs or --out folder")
    elif e.errno == errno.EDQUOT:
        what = "your disk quota is used up: free some space or write elsewhere"
    elif e.errno in (errno.EACCES, errno.EPERM):
        what = ("permission denied: choose a folder you may write (another --runs or --out "
                "folder) or change its permissions")
    else:
        what = (e.strerror or str(e)).rstrip(".").lower()
    return f"{where}: {what}"


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def atomic_copy(src: Path, dest: Path) -> None:
    """shutil.copyfile, atomically (FINN's outputs copied into a run)."""
    with open(src, "rb") as f, atomic_output(dest) as out:
        shutil.copyfileobj(f, out)


def atomic_copytree(src: Path, dest: Path) -> None:
    """A directory copied whole or not at all: into a temporary sibling, then renamed (an
    existing `dest` is replaced)."""
    dest = Path(dest)
    with naming(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
        try:
            shutil.copytree(src, tmp, dirs_exist_ok=True)
            if dest.exists():
                shutil.rmtree(dest)
            os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save, atomically: an interrupted write never leaves a broken checkpoint."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def _readable(path: Path) -> bool:
    try:
        _load_intact(path)
        return True
    except Exception:  # whatever the failure, the file cannot stand in
        return False


def checkpoint_damage(path: Path) -> str | None:
    """Why the checkpoint at `path` is damaged, or None: every zip member's CRC32 is
    checked, because torch itself reads a zeroed stretch of weights without complaint
    (measured: 3 of 4 same-size corruptions loaded silently, wrong weights)."""
    try:
        with zipfile.ZipFile(path) as z:
            if bad := z.testzip():
                return f"checksum mismatch in member {bad}"
    except zipfile.BadZipFile as e:
        return f"not a complete zip archive: {e}"
    return None


def _load_intact(path: Path) -> dict[str, Any]:
    if why := checkpoint_damage(path):
        raise ValueError(why)
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """torch.load, or one sentence naming the file when it is truncated or corrupt (a disk
    filled up, a copy cut short, bytes zeroed) and saying whether the other checkpoint can
    stand in."""
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return _load_intact(path)
    except PermissionError:
        raise  # not damage: the CLI says so in its own sentence
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as e:
        other = path.with_name("best.pt" if path.name == "last.pt" else "last.pt")
        hint = (f"{other.name} beside it is intact: move {path.name} away and it is used "
                "instead (training resumes only from last.pt)." if other.is_file()
                and _readable(other) else "no intact checkpoint is left: train the run again.")
        reason = str(e) if type(e) is ValueError else type(e).__name__
        raise ValueError(f"{path} is truncated or corrupt ({reason}); {hint}") from None


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
    """metrics.jsonl, pseudolabels.jsonl: one record per line; [] when absent. A last line
    without its newline is a record cut short by a crash or a full disk: it is dropped."""
    if not path.is_file():
        return []
    text = path.read_text()
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines.pop()
    return [json.loads(line) for line in lines if line.strip()]


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """One record appended with one write(): logs grow by appending (rewriting a long
    metrics.jsonl every step would cost more than the step), so atomicity is per line: a line
    a crash cut short is dropped by read_jsonl and by the next append."""
    with naming(Path(path)):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            end = os.fstat(fd).st_size
            if end and os.pread(fd, 1, end - 1) != b"\n":  # a line cut short: drop it
                end = os.pread(fd, end, 0).rfind(b"\n") + 1
                os.ftruncate(fd, end)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), end)
        finally:
            os.close(fd)
