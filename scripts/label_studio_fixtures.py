"""Make the Label Studio test fixtures (tests/fixtures/label-studio/) with a real Label Studio.

Label Studio pins many packages of its own, so it is not a tinyssl dependency: install it in
a separate venv and start it, then point this script at it (stdlib only; it talks HTTP):

    python3 -m venv /tmp/lsvenv && /tmp/lsvenv/bin/pip install label-studio
    LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=$PWD/OUT \\
      /tmp/lsvenv/bin/label-studio start --no-browser --port 8089 --username me@example.com \\
      --password PASSWORD --user-token TOKEN --enable-legacy-api-token
    tinyssl select digits --budget 6 --features pixels --run RUN --format label-studio \\
      --out OUT/selection.csv
    python scripts/label_studio_fixtures.py OUT/selection.csv --token TOKEN --labels 9,6,...

It creates a project with the labelling config select wrote, adds the image folder as local
storage, imports the tasks (with the run's predictions), checks Label Studio serves the
first image, annotates every task through the
API with --labels (the picks' classes, in rank order), and saves the JSON, JSON_MIN and CSV
exports beside the CSV as export.json, export-min.json and export.csv.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def _api(base: str, token: str, method: str, path: str, body: Any = None) -> bytes:
    req = urllib.request.Request(f"{base}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Token {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read().decode()[:500]}") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("selection", type=Path, help="select's CSV (the tasks, config beside it)")
    ap.add_argument("--url", default="http://localhost:8089")
    ap.add_argument("--token", required=True)
    ap.add_argument("--labels", required=True, help="each task's class, comma-separated")
    ap.add_argument("--document-root", type=Path,
                    help="Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, holding a copy "
                         "of the image folder (default: the CSV's folder, as select says)")
    args = ap.parse_args()
    stem = args.selection.with_suffix("")
    tasks = json.loads(stem.with_name(f"{stem.name}.label-studio.json").read_text())
    config = stem.with_name(f"{stem.name}.label-studio.xml").read_text()
    labels = args.labels.split(",")
    assert len(labels) == len(tasks), f"{len(tasks)} tasks, {len(labels)} labels"

    def api(method: str, path: str, body: Any = None) -> Any:
        return json.loads(_api(args.url, args.token, method, path, body) or b"null")

    version = api("GET", "/api/version")["release"]
    project = api("POST", "/api/projects", {"title": "tinyssl fixtures", "label_config": config})
    pid = project["id"]
    root = (args.document_root or args.selection.parent).resolve()
    images = root / f"{stem.name}-images"
    api("POST", "/api/storages/localfiles", {"project": pid, "path": str(images),
                                             "title": "picks", "use_blob_urls": False})
    api("POST", f"/api/projects/{pid}/import", tasks)
    served = _api(args.url, args.token, "GET", tasks[0]["data"]["image"])
    assert served == (images / "1.png").read_bytes(), "Label Studio serves other bytes"
    listed = api("GET", f"/api/tasks?project={pid}&page_size=1000")
    listed = listed["tasks"] if isinstance(listed, dict) else listed
    by_rank = {t["data"]["rank"]: t["id"] for t in listed}
    for rank, label in enumerate(labels, 1):
        api("POST", f"/api/tasks/{by_rank[rank]}/annotations",
            {"result": [{"from_name": "label", "to_name": "image", "type": "choices",
                         "value": {"choices": [label]}}]})
    for kind, name in (("JSON", "export.json"), ("JSON_MIN", "export-min.json"),
                       ("CSV", "export.csv")):
        data = _api(args.url, args.token, "GET", f"/api/projects/{pid}/export?exportType={kind}")
        (args.selection.parent / name).write_bytes(data)
    print(f"Label Studio {version}: project {pid}, {len(tasks)} tasks annotated; wrote the "
          f"JSON, JSON_MIN and CSV exports to {args.selection.parent}")


if __name__ == "__main__":
    main()
