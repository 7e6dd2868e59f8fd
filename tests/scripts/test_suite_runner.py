"""The suites' shared loop (scripts/suite_runner.py): processes started side by side split the
cells instead of running each twice, and a cell held by a process that died is free again."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
import suite_runner  # noqa: E402


def _recorder(log: list[str], seconds: float = 0.0):
    def run(name: str) -> dict:
        log.append(name)
        time.sleep(seconds)
        return {"cell": name}
    return run


def test_a_cell_another_process_holds_is_left_to_it(tmp_path: Path) -> None:
    ran: list[str] = []
    with suite_runner.locked(tmp_path / "a.lock", wait=False) as mine:
        assert mine
        n = suite_runner.run_suite(["a", "b"], tmp_path, _recorder(ran), lambda *_: None)
    assert ran == ["b"] and n == 1  # a was held: skipped, not waited for
    assert not (tmp_path / "a.json").exists()
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["cell"] == "b" and set(b["load_1min"]) == {"start", "end"}  # load beside time
    suite_runner.run_suite(["a", "b"], tmp_path, _recorder(ran), lambda *_: None)
    assert ran == ["b", "a"]  # freed: a runs now, b (finished) never again
    assert not list(tmp_path.glob("*.lock"))  # a finished cell leaves no lock file


def test_two_workers_side_by_side_run_every_cell_once(tmp_path: Path) -> None:
    names = [f"cell{i}" for i in range(8)]
    logs: list[list[str]] = [[], []]
    finished: list[str] = []
    workers = [threading.Thread(target=suite_runner.run_suite,
                                args=(names, tmp_path, _recorder(log, 0.05),
                                      lambda name, _: finished.append(name)))
               for log in logs]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(logs[0] + logs[1]) == names  # each cell once, by one worker
    assert logs[0] and logs[1]  # and both worked
    assert sorted(finished) == names


def test_a_cell_held_by_a_process_that_died_is_free_again(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); "
         "import suite_runner; from pathlib import Path\n"
         "with suite_runner.locked(Path(sys.argv[2])):\n print('held', flush=True); "
         "time.sleep(60)", str(SCRIPTS), str(tmp_path / "a.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        ran: list[str] = []
        suite_runner.run_suite(["a"], tmp_path, _recorder(ran), lambda *_: None)
        assert ran == []  # a live process holds it
    finally:
        holder.kill()  # killed mid-cell: no clean-up ran
        holder.wait()
    assert (tmp_path / "a.lock").exists()  # its lock file is still there ...
    suite_runner.run_suite(["a"], tmp_path, _recorder(ran), lambda *_: None)
    assert ran == ["a"]  # ... but the lock went with the process
