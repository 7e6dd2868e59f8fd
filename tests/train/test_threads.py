"""The thread policy: a fixed default count whatever else runs, passive OpenMP waits when
other tinyssl processes share the machine (set before torch loads)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tinyssl.train.device import set_threads
from tinyssl.train.threads import available_cores, choose_wait_policy, other_tinyssl_processes


@pytest.fixture
def neighbour(tmp_path: Path) -> Iterator[None]:
    """A process whose command line looks like an installed `tinyssl train`."""
    before = other_tinyssl_processes()
    fake = tmp_path / "tinyssl"
    fake.write_text("import time\ntime.sleep(60)\n")
    sleeper = subprocess.Popen([sys.executable, str(fake), "train"])
    try:
        deadline = time.monotonic() + 10
        while other_tinyssl_processes() == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert other_tinyssl_processes() == before + 1
        yield
    finally:
        sleeper.kill()
        sleeper.wait()


def test_default_thread_count_ignores_other_tinyssl_processes(
        neighbour: None, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert choose_wait_policy() is None  # torch is loaded here: too late to take effect
    assert "OMP_WAIT_POLICY" not in os.environ
    saved = torch.get_num_threads()
    try:
        assert set_threads(None) == available_cores() == torch.get_num_threads()
        assert "still using all" in capsys.readouterr().err
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="at least 1"):
            set_threads(0)
    finally:
        torch.set_num_threads(saved)


PROBE = """
import os
from tinyssl.cli import main
main.get_command(None, "train")  # what the CLI does before running a command
print(os.environ.get("OMP_WAIT_POLICY"))
"""


def _cli_policy(env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_cli_chooses_passive_waits_before_torch_loads_when_shared(neighbour: None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _cli_policy(env) == "PASSIVE"
    assert _cli_policy({**env, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"  # user's wins


def test_cli_leaves_waits_alone_on_a_machine_of_its_own() -> None:
    if other_tinyssl_processes():
        pytest.skip("another tinyssl process is running on this machine")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _cli_policy(env) == "None"
