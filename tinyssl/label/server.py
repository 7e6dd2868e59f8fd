"""The labelling page's web server: one HTML page, the picks as PNGs, a small JSON API.

Python's own `http.server` (threaded) rather than a web framework: the page needs five
routes on localhost for one person, and a framework would be a dependency to install, pin
and learn for no feature used here.

    GET  /             the page (page.html)
    GET  /state        classes, keys, rows (key, label, suggestion), progress
    GET  /image/N      row N's image, PNG
    POST /label        {"row": N, "label": "cls"} → state (an unknown class: 400)
    POST /undo         → state and "row", the row it took back (null: nothing to undo)
    POST /done         → state, then the server stops
"""

from __future__ import annotations

import errno
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image

from tinyssl.data.types import DataError
from tinyssl.label.sheet import LabelSheet
from tinyssl.runs import describe_os_error

KEYS = "1234567890abcdefghijklmnopqrstuvwxyz"


def class_keys(classes: list[str]) -> list[str]:
    """The key that answers each class: the class name itself when every class is one
    distinct key-able character (digits: key 3 is class '3'), else 1…9, 0, a…z in order;
    classes past the 36th are answered by a click only ("")."""
    if len(set(classes)) == len(classes) and all(len(c) == 1 and c.lower() in KEYS
                                                 for c in classes):
        return [c.lower() for c in classes]
    return [KEYS[k] if k < len(KEYS) else "" for k in range(len(classes))]


def png(image: np.ndarray) -> bytes:
    """uint8 H×W×C → PNG bytes at the image's own size (the page scales it, pixelated)."""
    img = image[..., 0] if image.shape[-1] == 1 else image
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class LabelApp:
    """What the page shows and changes: the sheet, each row's image and suggestion."""

    sheet: LabelSheet
    keys: list[str]  # each row's image name (file or index), as the CSV has it
    images: np.ndarray  # uint8 N×H×W×C, row order
    suggestions: list[str | None]
    title: str

    def state(self) -> dict[str, Any]:
        labels = self.sheet.labels()
        return {"title": self.title, "classes": self.sheet.classes,
                "keys": class_keys(self.sheet.classes),
                "rows": [{"key": k, "label": lab, "suggestion": s}
                         for k, lab, s in zip(self.keys, labels, self.suggestions, strict=True)],
                "labelled": self.sheet.labelled(), "total": len(labels),
                "can_undo": bool(self.sheet.history)}


def _handler(app: LabelApp, on_done: Callable[[], None]) -> type[BaseHTTPRequestHandler]:
    page = (resources.files("tinyssl.label") / "page.html").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
            """Quiet: the terminal shows the URL and the final summary, not every request."""

        def _send(self, body: bytes, kind: str, status: int = HTTPStatus.OK) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, obj: Any, status: int = HTTPStatus.OK) -> None:
            self._send(json.dumps(obj).encode(), "application/json", status)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/":
                self._send(page, "text/html; charset=utf-8")
            elif self.path == "/state":
                self._json(app.state())
            elif self.path.startswith("/image/") and self.path[7:].isdigit() and \
                    int(self.path[7:]) < len(app.images):
                self._send(png(app.images[int(self.path[7:])]), "image/png")
            else:
                self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)

        def do_POST(self) -> None:  # noqa: N802
            extra: dict[str, Any] = {}
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))
                                  or b"{}")
                if self.path == "/label":
                    app.sheet.set(int(body["row"]), str(body["label"]))
                elif self.path == "/undo":
                    extra["row"] = app.sheet.undo()
                elif self.path != "/done":
                    self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
                    return
            except (DataError, KeyError, ValueError, TypeError) as e:
                self._json({"error": str(e)}, HTTPStatus.BAD_REQUEST)
                return
            except OSError as e:  # the CSV could not be saved: say so on the page, not a traceback
                self._json({"error": describe_os_error(e) + "."},
                           HTTPStatus.INTERNAL_SERVER_ERROR)
                return
            self._json({**app.state(), **extra})
            if self.path == "/done":
                on_done()

    return Handler


def make_server(app: LabelApp, host: str, port: int) -> ThreadingHTTPServer:
    """A server bound to host:port (port 0: any free one); a port in use is one sentence."""
    server: ThreadingHTTPServer | None = None

    def done() -> None:  # shutdown() waits for serve_forever, so not from the handler thread
        threading.Thread(target=server.shutdown, daemon=True).start()  # type: ignore[union-attr]

    try:
        server = ThreadingHTTPServer((host, port), _handler(app, done))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise DataError(f"port {port} on {host} is in use; pass another --port (0 picks "
                            "a free one).") from None
        raise DataError(f"cannot listen on {host}:{port} ({e.strerror}).") from None
    server.daemon_threads = True
    return server
