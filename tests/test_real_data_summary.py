"""The test summary says when the real-data tests were skipped, how many and why (a clone
without ../shared/data would otherwise look fully tested)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_skipped_real_data_tests_are_counted_in_the_summary(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-data"
    env = {**os.environ, "TINYSSL_SHARED_DATA": str(missing)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(TESTS / "data" / "test_shared_data.py")],
                         capture_output=True, text=True, env=env, cwd=TESTS.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    skipped = int(re.search(r"(\d+) skipped", run.stdout).group(1))
    assert skipped >= 5
    assert f"{skipped} real-data test(s) skipped" in run.stdout
    assert f"{missing} is not there" in run.stdout and "TINYSSL_SHARED_DATA" in run.stdout
