"""A fit directory given where a run is expected: the run meant is its distilled student.

`tinyssl fit` writes FIT/fit.yaml and one run directory per stage (FIT/baseline,
FIT/teacher, …, FIT/student); only the student ships. Every command that takes a RUN
(predict, eval, export, verify, probe, fpga build) resolves its argument here, so a fit
directory works wherever a run does. Standard library only: the CLI calls it before it
imports torch.
"""

from __future__ import annotations

from pathlib import Path

FIT_FILE = "fit.yaml"  # what makes a directory a fit directory (and what --resume reads)
STUDENT = "student"  # the stage that ships


def is_fit_dir(path: Path) -> bool:
    return (Path(path) / FIT_FILE).is_file()


def resolve_run(path: Path) -> tuple[Path, str | None]:
    """(the run directory `path` stands for, a one-line note when it is not `path` itself).
    A fit directory stands for its student; one whose student has not started is refused
    with the command that finishes it."""
    path = Path(path)
    if not is_fit_dir(path):
        return path, None
    student = path / STUDENT
    if not (student / "config.yaml").is_file():
        raise ValueError(f"{path} is a fit directory whose student has not trained yet; "
                         f"finish it with `tinyssl fit --resume {path}`.")
    return student, f"{path} is a fit directory; using its student {student}"
