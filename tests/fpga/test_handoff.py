"""`tinyssl fpga build --handoff DIR` on the default build: a folder that resumes FINN's build
on a Vivado machine, consistent with the build; an existing folder is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from fpga_fixtures import built_run
from handoff_checks import check_handoff

from tinyssl.cli import main


def test_handoff_is_consistent_with_the_build(tmp_path: Path) -> None:
    run = shutil.copytree(built_run("tiny-w2a2"), tmp_path / "run")
    dest = tmp_path / "handoff"
    result = CliRunner().invoke(main, ["fpga", "build", str(run), "--handoff", str(dest)])
    assert result.exit_code == 0, result.output
    check_handoff(dest, run / "fpga" / "finn")
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["variant"] == "default" and "pynq_driver" in manifest["outputs"]
    assert (dest / "resume_build.sh").stat().st_mode & 0o111
    assert "Pool_hls_0" in (dest / "README.md").read_text()


def test_handoff_into_a_used_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    result = CliRunner().invoke(main, ["fpga", "build", str(built_run("tiny-w2a2")),
                                       "--handoff", str(tmp_path / "used")])
    assert result.exit_code == 2 and "is not empty" in result.output
    assert "Traceback" not in result.output
