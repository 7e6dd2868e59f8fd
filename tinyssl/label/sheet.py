"""The selection CSV while a person labels it: every answer is written to disk at once.

The file is rewritten whole through `atomic_write_bytes` after each answer (a few kB for a
few hundred picks, well under a millisecond to format), so a killed labelling server leaves
the last answer on disk and never a half-written CSV; opening the file again resumes where
the person stopped. Columns other than `label` are kept as `tinyssl select` wrote them.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tinyssl.data.types import DataError
from tinyssl.runs import atomic_write_bytes

LABEL = "label"


@dataclass
class LabelSheet:
    """Rows of a selection CSV, their labels, and the answers given in this session (undo)."""

    path: Path
    classes: list[str]
    header: list[str]
    rows: list[list[str]]
    history: list[tuple[int, str]] = field(default_factory=list)  # (row, label before)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, path: Path, classes: list[str]) -> LabelSheet:
        """Read `path` (a label column is added when it has none); labels already in it must
        be classes, so a typo made by hand is reported before anything is written."""
        with open(path, newline="", encoding="utf-8-sig") as f:
            table = list(csv.reader(f))
        header = [c.strip() for c in table[0]]
        rows = [[v.strip() for v in r] + [""] * (len(header) - len(r)) for r in table[1:] if r]
        if LABEL not in header:
            header.append(LABEL)
            rows = [r + [""] for r in rows]
        sheet = cls(path, classes, header, rows)
        known = set(classes)
        for k, label in enumerate(sheet.labels(), 1):
            if label and label not in known:
                raise DataError(f"{path}: row {k} has label {label!r}, not a class ("
                                f"{', '.join(classes)}); correct or empty it first.")
        return sheet

    def labels(self) -> list[str]:
        col = self.header.index(LABEL)
        return [r[col] for r in self.rows]

    def column(self, name: str) -> list[str]:
        col = self.header.index(name)
        return [r[col] for r in self.rows]

    def labelled(self) -> int:
        return sum(bool(x) for x in self.labels())

    def set(self, row: int, label: str) -> None:
        """Label row `row` (0-based) with a class ("" clears it) and write the file now."""
        if label and label not in self.classes:
            raise DataError(f"{label!r} is not a class; the classes are "
                            f"{', '.join(self.classes)}.")
        if not 0 <= row < len(self.rows):
            raise DataError(f"row {row} is not in {self.path} (0 to {len(self.rows) - 1}).")
        with self.lock:
            col = self.header.index(LABEL)
            before = self.rows[row][col]
            self.rows[row][col] = label
            try:
                self._write()
            except OSError:  # not saved: the answer is not taken either
                self.rows[row][col] = before
                raise
            self.history.append((row, before))

    def undo(self) -> int | None:
        """Take back this session's last answer; the row it changed, or None if none left."""
        with self.lock:
            if not self.history:
                return None
            row, before = self.history.pop()
            self.rows[row][self.header.index(LABEL)] = before
            self._write()
            return row

    def _write(self) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.header)
        w.writerows(self.rows)
        atomic_write_bytes(self.path, buf.getvalue().encode())
