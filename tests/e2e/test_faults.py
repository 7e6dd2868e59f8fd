"""Issue 31, the machine fails: every writing command against a read-only and a full file
system, `kill -9` in the middle of checkpoint and model writes, and damaged checkpoints and
models read back. Each case asserts the exit code, exactly one "Error:" sentence, no
traceback, and that every file left is complete and loadable or absent
(tests/fault_fixtures.py). Faults are injected at the OS-call level (runs everywhere) and,
where the process may mount (root), also made real with a read-only or full tmpfs."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fault_fixtures import (
    assert_nothing_broken,
    assert_one_sentence,
    can_mount,
    inject,
    mounted,
    sitecustomize_env,
    tinyssl_cmd,
)
from PIL import Image

from tinyssl.cli import main

TINY = ["--data", "digits", "--image-size", "16", "--labels-per-class", "3", "--device", "cpu",
        "--no-progress", "--log", "none", "--threads", "1"]
MOUNT = can_mount()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One trained run (not exported), three PNGs to predict, and an unlabelled image folder
    with a labelled selection CSV for `data arrange`: shared by every case (copied)."""
    base = tmp_path_factory.mktemp("faults")
    result = CliRunner().invoke(main, ["train", *TINY, "--steps", "4", "--runs",
                                       str(base / "runs")])
    assert result.exit_code == 0, result.output
    (run,) = (base / "runs").iterdir()
    from sklearn.datasets import load_digits

    images = load_digits().images[:6]
    pool = base / "pool"
    pool.mkdir()
    for i, img in enumerate(images):
        Image.fromarray((img * 15).astype(np.uint8)).save(pool / f"img{i}.png")
    csv = base / "selection.csv"
    csv.write_text("file,label\n" + "".join(f"img{i}.png,{i % 2}\n" for i in range(4)))
    exported = base / "exported" / run.name
    shutil.copytree(run, exported)
    result = CliRunner().invoke(main, ["predict", str(exported), str(pool), "--out",
                                       str(base / "predictions.csv")])
    assert result.exit_code == 0, result.output
    return {"run": run, "pool": pool, "csv": csv, "base": base, "exported": exported,
            "predictions": base / "predictions.csv"}


def _seed_run(world: dict[str, Path], folder: Path) -> Path:
    shutil.copytree(world["run"], folder / world["run"].name)
    return folder / world["run"].name


#: command → (needs the trained run inside the faulty folder, its arguments)
COMMANDS: dict[str, tuple[bool, Callable[[dict[str, Path], Path], list[str]]]] = {
    "train": (False, lambda w, f: ["train", *TINY, "--steps", "2", "--runs", str(f)]),
    "fit": (False, lambda w, f: [
        "fit", *TINY, "--model", "tiny-w2a2", "--steps", "2", "--teacher-steps", "2",
        "--no-auto", "--pretrain-steps", "0", "--no-hardware", "--no-baseline",
        "--runs", str(f)]),
    "select": (False, lambda w, f: ["select", "digits", "--budget", "4", "--features", "pixels",
                                    "--out", str(f / "selection.csv")]),
    "data arrange": (False, lambda w, f: ["data", "arrange", str(w["csv"]), "--data",
                                          f"folder:{w['pool']}", "--out", str(f / "arranged")]),
    "data preview": (False, lambda w, f: ["data", "preview", "digits", "--out",
                                          str(f / "preview.png")]),
    "predict": (True, lambda w, f: ["predict", str(f / w["run"].name), str(w["pool"])]),
    "export": (True, lambda w, f: ["export", str(f / w["run"].name)]),
    "eval": (True, lambda w, f: ["eval", str(f / w["run"].name)]),
    "report": (True, lambda w, f: ["report", str(f)]),
}
FAULTS = {"read-only": (errno.EROFS, "read-only"), "full": (errno.ENOSPC, "disk is full")}


def _check(result, folder: Path, expect: str, before: set[Path]) -> None:  # noqa: ANN001
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.exc_info
    line = assert_one_sentence(result.output, result.exit_code, 1, expect)
    assert str(folder) in line, line  # the sentence names the path
    if expect == "disk is full":
        assert "MB free" in line, line
    left = set(assert_nothing_broken(folder))
    created_dirs = {p for p in folder.iterdir() if p.is_dir()} - {p.parent for p in before}
    for d in created_dirs:  # a run directory the failed command made holds a checkpoint
        assert any(d.rglob("*.pt")), f"{d} was left although it holds nothing complete"
    assert before <= left, "a file that was complete before the command is gone"


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("command", COMMANDS)
def test_injected_fault_is_one_sentence_and_leaves_nothing_broken(
        world: dict[str, Path], tmp_path: Path, command: str, fault: str) -> None:
    needs_run, args = COMMANDS[command]
    folder = tmp_path / "target"
    folder.mkdir()
    if needs_run:
        _seed_run(world, folder)
    before = {p for p in folder.rglob("*") if p.is_file()}
    code, expect = FAULTS[fault]
    with inject(folder, code):
        result = CliRunner().invoke(main, args(world, folder))
    _check(result, folder, expect, before)


@pytest.mark.parametrize(("code", "expect"), [
    (errno.EACCES, "permission denied: choose a folder you may write"),
    (errno.EDQUOT, "disk quota is used up"),
])
def test_permission_and_quota_are_named_too(world: dict[str, Path], tmp_path: Path, code: int,
                                            expect: str) -> None:
    folder = tmp_path / "target"
    folder.mkdir()
    with inject(folder, code):
        result = CliRunner().invoke(main, COMMANDS["train"][1](world, folder))
    _check(result, folder, expect, set())
    assert not any(folder.iterdir())


@pytest.mark.skipif(not MOUNT, reason="needs root and tmpfs (the injected cases run anyway)")
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("command", ["train", "data arrange", "predict", "eval"])
def test_real_read_only_or_full_tmpfs(world: dict[str, Path], tmp_path: Path, command: str,
                                      fault: str) -> None:
    needs_run, args = COMMANDS[command]
    seed = None
    if needs_run:
        seed = tmp_path / "seed"
        seed.mkdir()
        _seed_run(world, seed)
    kind = "ro" if fault == "read-only" else "full"
    with mounted(tmp_path / "target", kind, free_kb=0, seed=seed) as folder:
        before = {p for p in folder.rglob("*") if p.is_file() and p.name != ".filler"}
        result = CliRunner().invoke(main, args(world, folder))
        _check(result, folder, FAULTS[fault][1], before)


def test_fault_in_a_real_process_prints_no_traceback(world: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """The same injection in a subprocess (sitecustomize.py): what a user's terminal shows."""
    folder = tmp_path / "target"
    folder.mkdir()
    env = sitecustomize_env(tmp_path, folder, "ENOSPC")
    proc = subprocess.run(tinyssl_cmd(*COMMANDS["train"][1](world, folder)), env=env,
                          capture_output=True, text=True, timeout=300)
    assert_one_sentence(proc.stderr, proc.returncode, 1, "disk is full")
    assert not any(folder.iterdir()), "the failed train left its run directory"


@pytest.mark.skipif(not MOUNT, reason="needs root and tmpfs")
def test_disk_full_after_the_first_checkpoint_keeps_it_and_says_resume(
        world: dict[str, Path], tmp_path: Path) -> None:
    """Room for a run's first files and checkpoint but not for the rest: the run directory
    stays (it resumes), and the sentence says how."""
    size = (world["run"] / "checkpoints" / "last.pt").stat().st_size
    with mounted(tmp_path / "target", "full", free_kb=size // 1024 + 40) as folder:
        result = CliRunner().invoke(main, ["train", *TINY, "--steps", "40", "--checkpoint-every",
                                           "1", "--runs", str(folder)])
        line = assert_one_sentence(result.output, result.exit_code, 1, "disk is full")
        assert "--resume" in line, line
        assert_nothing_broken(folder)


# ------------------------------------------------------------------ kill -9 during writes
WRITER = """
import sys, torch
from pathlib import Path
from tinyssl.runs import save_checkpoint
from tinyssl.export import QCDQ_NAME, QONNX_NAME, to_qcdq
run = Path(sys.argv[1])
print("ready", flush=True)
k = 0
while True:
    k += 1
    if sys.argv[2] == "checkpoint":
        save_checkpoint(run / "checkpoints" / "last.pt",
                        {"step": k, "w": torch.full((400_000,), float(k))})
    else:
        to_qcdq(run / QONNX_NAME, run / QCDQ_NAME)
"""


@pytest.mark.parametrize("what", ["checkpoint", "model"])
def test_kill_9_at_random_points_of_a_write_leaves_old_or_new(
        world: dict[str, Path], tmp_path: Path, what: str) -> None:
    shutil.copytree(world["exported"], tmp_path / "run")
    run = tmp_path / "run"
    rng = random.Random(31)
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(run), what],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if what == "checkpoint":
            import torch

            state = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
            if "w" in state:  # one write of the loop, whole: its tensor matches its step
                assert bool((state["w"] == float(state["step"])).all())
        for p in run.rglob(".*"):  # a temporary file of the killed write: never mistaken
            p.unlink()             # for the real one, removed here so the next check is fair
        assert_nothing_broken(run)


# --------------------------------------------------------------- damaged files read back
def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _zero(p: Path) -> None:
    """Same size, a stretch of bytes zeroed (what a bad sector or torn page leaves)."""
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 512] = bytes(512)
    p.write_bytes(bytes(data))


DAMAGE = {"truncated": _truncate, "zeroed": _zero}
READERS = {
    "predict": lambda run, w: ["predict", str(run), str(w["pool"])],
    "eval": lambda run, w: ["eval", str(run)],
    "export": lambda run, w: ["export", str(run)],
    "verify": lambda run, w: ["verify", str(run), "--images", "2"],
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("reader", READERS)
def test_damaged_best_checkpoint_is_named_with_the_fix(world: dict[str, Path], tmp_path: Path,
                                                       reader: str, damage: str) -> None:
    run = _seed_run(world, tmp_path)
    DAMAGE[damage](run / "checkpoints" / "best.pt")
    result = CliRunner().invoke(main, READERS[reader](run, world))
    line = assert_one_sentence(result.output, result.exit_code, 2, "is truncated or corrupt")
    assert "best.pt" in line and "last.pt beside it is intact" in line


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_last_checkpoint_refuses_resume(world: dict[str, Path], tmp_path: Path,
                                                damage: str) -> None:
    run = _seed_run(world, tmp_path)
    DAMAGE[damage](run / "checkpoints" / "last.pt")
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps", "6"])
    line = assert_one_sentence(result.output, result.exit_code, 2, "is truncated or corrupt")
    assert "last.pt" in line


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("model", ["model.qcdq.onnx", "model.qonnx.onnx"])
def test_damaged_exported_model_is_reexported_with_a_warning(
        world: dict[str, Path], tmp_path: Path, model: str, damage: str) -> None:
    shutil.copytree(world["exported"], tmp_path / "run")
    run = tmp_path / "run"
    DAMAGE[damage](run / model)
    with pytest.warns(UserWarning, match=rf"{model} is truncated or corrupt .*re-exported"):
        result = CliRunner().invoke(main, ["predict", str(run), str(world["pool"]), "--out",
                                           str(tmp_path / "after.csv")])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert (tmp_path / "after.csv").read_text() == world["predictions"].read_text()
    assert_nothing_broken(run)


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_model_loaded_directly_names_the_fix(world: dict[str, Path], tmp_path: Path,
                                                     damage: str) -> None:
    from tinyssl.export import load_model

    shutil.copytree(world["exported"], tmp_path / "run")
    path = tmp_path / "run" / "model.qcdq.onnx"
    DAMAGE[damage](path)
    with pytest.raises(ValueError, match=r"model\.qcdq\.onnx is truncated or corrupt .*"
                                         r"re-export it with `tinyssl export"):
        load_model(path)


def test_damaged_cached_selection_encoder_is_rebuilt(world: dict[str, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """select's encoder cache: "train the run again" does not apply, so it is rebuilt."""
    monkeypatch.setenv("TINYSSL_CACHE", str(tmp_path / "cache"))
    args = ["select", "digits", "--image-size", "16", "--budget", "4", "--encoder-steps", "2",
            "--device", "cpu", "--out", str(tmp_path / "a.csv")]
    runner = CliRunner()
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    checkpoints = sorted((tmp_path / "cache").rglob("*.pt"))
    assert checkpoints
    _zero(checkpoints[0])
    with pytest.warns(UserWarning, match="selection encoder .* is damaged .* trained again"):
        again = runner.invoke(main, [*args[:-1], str(tmp_path / "b.csv")])
    assert again.exit_code == 0 and "Traceback" not in again.output, again.output
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert_nothing_broken(tmp_path / "cache")


def test_a_log_line_cut_short_is_dropped_and_repaired() -> None:
    """metrics.jsonl grows by appends: a crash mid-line loses that line only."""
    import tempfile

    from tinyssl.runs import append_jsonl, read_jsonl

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "metrics.jsonl"
        append_jsonl(log, {"step": 1})
        with open(log, "a") as f:
            f.write('{"step": 2, "lo')  # what a kill or a full disk leaves
        assert read_jsonl(log) == [{"step": 1}]
        append_jsonl(log, {"step": 3})
        assert read_jsonl(log) == [{"step": 1}, {"step": 3}]
        assert_nothing_broken(Path(tmp))


def test_label_answer_that_cannot_be_saved_is_not_taken(tmp_path: Path) -> None:
    """`tinyssl label` writes the CSV at every answer: on a full disk the answer is refused
    (the page shows the sentence) and the CSV and the session stay as they were."""
    from tinyssl.label.sheet import LabelSheet
    from tinyssl.runs import describe_os_error

    csv = tmp_path / "selection.csv"
    csv.write_text("rank,index,label\n1,0,\n2,5,\n")
    sheet = LabelSheet.open(csv, ["0", "1"])
    with inject(tmp_path, errno.ENOSPC), pytest.raises(OSError) as e:
        sheet.set(0, "1")
    assert "disk is full" in describe_os_error(e.value) and str(csv) in describe_os_error(e.value)
    assert sheet.labels() == ["", ""] and not sheet.history
    assert csv.read_text() == "rank,index,label\n1,0,\n2,5,\n"
    assert_nothing_broken(tmp_path)
    sheet.set(0, "1")
    assert LabelSheet.open(csv, ["0", "1"]).labels() == ["1", ""]
