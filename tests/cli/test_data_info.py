"""`tinyssl data info --image-size N` says what the resize did: the source's own image size
and the resize mode (issue 31); without --image-size the images are the source's own."""

from __future__ import annotations

from click.testing import CliRunner

from tinyssl.cli import main


def test_data_info_names_the_source_size_and_the_resize_mode() -> None:
    runner = CliRunner()
    resized = runner.invoke(main, ["data", "info", "digits", "--image-size", "16",
                                   "--resize", "pad"])
    assert resized.exit_code == 0, resized.output
    head = resized.output.splitlines()[0]
    assert "images 16×16×1 (H×W×C) uint8, resized from the source's 8×8 px" in head
    assert "--resize pad: non-square images are padded with black" in head
    own = runner.invoke(main, ["data", "info", "digits"])
    assert own.exit_code == 0 and "images 8×8×1" in own.output
    assert "resized from" not in own.output
