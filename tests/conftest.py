"""Fixtures shared across the test files, and the summary line saying which real-data tests
did not run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

#: The real datasets: ../shared/data beside the clone, or wherever TINYSSL_SHARED_DATA says.
SHARED_DATA = Path(os.environ.get("TINYSSL_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))
NO_SHARED_DATA = "real data not present"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets; tests that need them skip without them (and the summary says so)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{NO_SHARED_DATA}: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def digits_fit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real fit directory (tests/fit_fixtures.py), trained once per session; tests
    that write into it work on a copy."""
    import torch
    from fit_fixtures import small_fit

    torch.set_num_threads(1)
    return small_fit(tmp_path_factory.mktemp("fits") / "plain")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it loudly when the real-data tests were skipped: -ra's one line is easy to miss,
    and a clone without ../shared/data would otherwise look fully tested."""
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if NO_SHARED_DATA in str(getattr(r, "longrepr", ""))]
    if skipped:
        terminalreporter.write_sep("=", f"{len(skipped)} real-data test(s) skipped", yellow=True)
        terminalreporter.write_line(
            f"{SHARED_DATA} is not there: put the shared data folder at ../shared/data beside "
            "the clone, or point TINYSSL_SHARED_DATA at it, and run the tests again.")
