"""Machine faults for the fault-injection suite (tests/e2e/test_faults.py).

Two routes to a folder that refuses writes, both leaving the code under test unchanged:

- `inject(folder, code)`: the OS calls that create or change files (open for writing,
  os.open, mkdir, rename/replace, unlink) raise OSError(code) for paths under `folder`, as
  a read-only (EROFS) or full (ENOSPC) file system would. It runs everywhere (no root, no
  mount) and is used in-process or, through `sitecustomize_env`, in a subprocess.
- `mounted(tmp, kind)`: a real read-only or nearly full tmpfs, where the process may mount
  (root, as here); None elsewhere.

`assert_nothing_broken(folder)` is the promise both routes check: every file left under
`folder` loads with the library that reads it, and no temporary file is left behind.
"""

from __future__ import annotations

import builtins
import contextlib
import csv
import errno
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _under(path: object, folder: str) -> bool:
    if isinstance(path, int):
        return False
    try:
        p = os.path.abspath(os.fsdecode(path))
    except TypeError:
        return False
    return p == folder or p.startswith(folder + os.sep)


def inject(folder: str | Path, code: int) -> contextlib.ExitStack:
    """Make writes under `folder` fail with `code`; returns the stack that undoes it.
    Under ENOSPC a directory may still be created (a full disk often has a spare block),
    under EROFS nothing may."""
    folder = os.path.abspath(folder)
    stack = contextlib.ExitStack()

    def fail(path: object) -> OSError:
        return OSError(code, os.strerror(code), os.fsdecode(path))

    def patch(owner: object, name: str, make: object) -> None:
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        stack.callback(setattr, owner, name, original)

    def on_open(original):  # noqa: ANN001, ANN202
        def wrapped(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if any(c in mode for c in "wax+") and _under(file, folder):
                raise fail(file)
            return original(file, mode, *args, **kwargs)
        return wrapped

    def on_os_open(original):  # noqa: ANN001, ANN202
        def wrapped(path, flags, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if flags & _WRITE_FLAGS and _under(path, folder):
                raise fail(path)
            return original(path, flags, *args, **kwargs)
        return wrapped

    def on_path(original, which=(0,), allow_dirs=False):  # noqa: ANN001, ANN202
        def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            for i in which:
                if i < len(args) and _under(args[i], folder):
                    if allow_dirs and code == errno.ENOSPC:
                        break
                    if original.__name__ == "mkdir" and os.path.isdir(args[i]):
                        raise FileExistsError(errno.EEXIST, "File exists", args[i])
                    raise fail(args[i])
            return original(*args, **kwargs)
        return wrapped

    patch(builtins, "open", on_open)
    patch(io, "open", on_open)
    patch(os, "open", on_os_open)
    patch(os, "mkdir", lambda o: on_path(o, allow_dirs=True))
    patch(os, "rename", lambda o: on_path(o, which=(1,)))
    patch(os, "replace", lambda o: on_path(o, which=(1,)))
    if code == errno.EROFS:
        patch(os, "unlink", on_path)
        patch(os, "rmdir", on_path)
    return stack


SITECUSTOMIZE = """\
import os
if os.environ.get("TINYSSL_FAULT_DIR"):
    import errno
    from fault_fixtures import inject
    inject(os.environ["TINYSSL_FAULT_DIR"], getattr(errno, os.environ["TINYSSL_FAULT_ERRNO"]))
"""


def sitecustomize_env(tmp: Path, folder: Path, code_name: str) -> dict[str, str]:
    """The environment of a subprocess whose writes under `folder` fail with errno
    `code_name` ("EROFS", "ENOSPC"): a sitecustomize.py first on PYTHONPATH installs
    `inject` before any other code runs."""
    site = tmp / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    here = Path(__file__).resolve().parent  # fault_fixtures itself; tinyssl as usual
    path = os.pathsep.join([str(site), str(here), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "TINYSSL_FAULT_DIR": str(folder),
            "TINYSSL_FAULT_ERRNO": code_name}


def can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    probe = Path("/tmp") / f"tinyssl-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", str(probe)], check=True)
        return ok
    finally:
        probe.rmdir()


@contextlib.contextmanager
def mounted(folder: Path, kind: str, free_kb: int = 96, seed: Path | None = None
            ) -> Iterator[Path]:
    """A real tmpfs at `folder`: "ro" (read-only; `seed`'s contents copied in first) or
    "full" (`free_kb` left: small files fit, a checkpoint or a model does not)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    size = 4096 if kind == "full" else 65536
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}k", "tmpfs", str(folder)],
                   check=True)
    try:
        if seed is not None:
            shutil.copytree(seed, folder, dirs_exist_ok=True)
        if kind == "ro":
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            filler = folder / ".filler"
            with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 4096)
            free = shutil.disk_usage(folder).free
            os.truncate(filler, max(0, filler.stat().st_size - free_kb * 1024 + free))
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def _check_file(path: Path) -> None:
    """Load `path` with what reads it; raise when it is incomplete."""
    suffix = path.suffix
    data = path.read_bytes()
    if suffix == ".pt":
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None, path
        import torch

        torch.load(path, map_location="cpu", weights_only=False)
    elif suffix == ".onnx":
        import onnx

        model = onnx.load_from_string(data)
        props = {p.key: p.value for p in model.metadata_props}
        if "tinyssl_sha256" in props:  # the digest export embeds (tinyssl.export.write_model)
            import hashlib

            del model.metadata_props[-1]
            assert hashlib.sha256(model.SerializeToString()).hexdigest() == \
                props["tinyssl_sha256"], path
    elif suffix == ".json":
        json.loads(data)
    elif suffix == ".jsonl":
        text = data.decode()
        assert not text or text.endswith("\n"), f"{path}: last line cut short"
        for line in text.splitlines():
            json.loads(line)
    elif suffix == ".csv":
        list(csv.reader(io.StringIO(data.decode())))
    elif suffix in (".npz", ".npy"):
        import numpy as np

        loaded = np.load(path, allow_pickle=False)
        if suffix == ".npz":
            for k in loaded.files:
                loaded[k]
    elif suffix == ".png":
        from PIL import Image

        Image.open(path).verify()
    elif suffix in (".yaml", ".yml"):
        import yaml

        yaml.safe_load(data)
    elif suffix in (".md", ".txt", ".sha256"):
        data.decode()


def assert_nothing_broken(folder: Path) -> list[Path]:
    """Every file under `folder` is complete and loadable; no temporary file is left.
    Returns the files seen."""
    files = [p for p in Path(folder).rglob("*") if p.is_file() and p.name != ".filler"]
    for p in files:
        assert not p.name.startswith("."), f"temporary file left behind: {p}"
        try:
            _check_file(p)
        except Exception as e:  # noqa: BLE001 - any failure to load is the finding
            raise AssertionError(f"{p} is incomplete or unreadable: {e!r}") from None
    return files


def assert_one_sentence(output: str, exit_code: int, code: int, expect: str) -> str:
    """The command ended with `code`, one "Error:" line containing `expect`, no traceback."""
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert exit_code == code and len(errors) == 1, (exit_code, output)
    assert expect in errors[0], errors[0]
    return errors[0]


def tinyssl_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from tinyssl.cli import main; sys.exit(main())",
            *args]
