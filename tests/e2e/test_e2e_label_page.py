"""`tinyssl label` end to end in a real headless browser (Debian's chromium + chromedriver,
driven by Selenium; `make test` installs them when missing): open the page, label with keys
and a click, undo, reload, accept the run's suggestion, check the CSV after every answer,
kill the server and resume. TINYSSL_SCREENSHOT=docs/label-page.png regenerates the README's
screenshot (otherwise it goes to the test's temporary folder, so a test run leaves the
repository as it was)."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tinyssl.cli import main
from tinyssl.data import DataBundle, ImageSet, load_dataset
from tinyssl.select.rules import Picks
from tinyssl.select.sheet import selection_csv

ROWS = [1031, 808, 478, 186, 1194, 600]  # digits training images, as select lists them


def _selection(path: Path) -> Path:
    bundle = load_dataset("digits")
    n = len(ROWS)
    selection_csv(bundle, Picks(np.array(ROWS), np.arange(n), np.ones(n)), path)
    return path


def _labels(path: Path) -> list[str]:
    with open(path, newline="") as f:
        return [r["label"] for r in csv.DictReader(f)]


def _serve(*args: str) -> tuple[subprocess.Popen, str]:
    """`tinyssl label … --port 0` in a subprocess; (process, the page's URL)."""
    cmd = [sys.executable, "-m", "tinyssl.cli", "label", *args, "--port", "0", "--no-open",
           "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert "http://" in line, proc.stderr.read()  # type: ignore[union-attr]
    return proc, line.split(" at ")[1].split(";")[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trained digits classifier (its guesses are the suggestions)."""
    root = tmp_path_factory.mktemp("runs")
    res = CliRunner().invoke(main, ["train", "--data", "digits", "--labels-per-class", "5",
                                    "--steps", "40", "--width-mult", "0.5", "--no-progress",
                                    "--threads", "1", "--runs", str(root)])
    assert res.exit_code == 0, res.output
    return next(root.iterdir())


@pytest.fixture
def browser() -> webdriver.Chrome:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "needs Debian's chromium and chromium-driver (make test " \
                                "installs them: apt-get install -y chromium chromium-driver)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,760"):
        options.add_argument(arg)
    with webdriver.Chrome(service=Service(driver), options=options) as b:
        yield b


def _progress(browser: webdriver.Chrome, text: str) -> None:
    WebDriverWait(browser, 20).until(
        lambda b: b.find_element(By.ID, "progress").text == text,
        f"progress never read {text!r}")


def _press(browser: webdriver.Chrome, key: str) -> None:
    browser.find_element(By.TAG_NAME, "body").send_keys(key)


def test_label_page_keys_undo_reload_suggestions(tmp_path: Path, run: Path,
                                                 browser: webdriver.Chrome) -> None:
    from tinyssl.label.guesses import guesses
    from tinyssl.select import pool_of

    sel = _selection(tmp_path / "selection.csv")
    pool = pool_of(load_dataset("digits", image_size=16))
    truth = [str(int(c)) for c in pool.train.y[ROWS]]  # the person answers these
    wrong = str((int(truth[1]) + 1) % 10)
    picked = ImageSet(pool.train.x[ROWS], pool.train.y[ROWS])
    guess = guesses(run, DataBundle("digits", pool.classes, picked, pool.test), "cpu")
    proc, url = _serve(str(sel), "--run", str(run))
    try:
        browser.get(url)
        _progress(browser, "0 of 6 labelled")
        _press(browser, truth[0])  # digits: key 3 is class '3'
        _progress(browser, "1 of 6 labelled")
        assert _labels(sel) == [truth[0], "", "", "", "", ""]  # on disk at once
        _press(browser, wrong)
        _progress(browser, "2 of 6 labelled")
        assert _labels(sel)[:2] == [truth[0], wrong]
        _press(browser, Keys.BACKSPACE)  # undo: row 2 empty again and shown again
        _progress(browser, "1 of 6 labelled")
        assert _labels(sel) == [truth[0], "", "", "", "", ""]
        browser.refresh()  # the page comes back to the first unlabelled image
        _progress(browser, "1 of 6 labelled")
        assert browser.find_element(By.ID, "caption").text.startswith(f"#2 of 6: {ROWS[1]}")
        browser.find_element(By.CSS_SELECTOR, f"#classes button[data-cls='{truth[1]}']").click()
        _progress(browser, "2 of 6 labelled")
        # the run's guess of row 3 is pre-selected, and Enter takes it
        shown = browser.find_element(By.CSS_SELECTOR, "#classes button.suggested")
        assert shown.get_attribute("data-cls") == guess[2]
        _press(browser, Keys.ENTER)
        _progress(browser, "3 of 6 labelled")
        assert _labels(sel)[:3] == [truth[0], truth[1], guess[2]]
        _press(browser, Keys.ARROW_LEFT)  # back to row 3, answered again
        assert browser.find_element(By.ID, "caption").text.startswith(f"#3 of 6: {ROWS[2]}")
        _press(browser, truth[2])
        WebDriverWait(browser, 20).until(lambda b: _labels(sel)[2] == truth[2])
        # an unknown class is refused (the page only offers classes; the API checks too)
        status = browser.execute_async_script(
            "fetch('/label', {method: 'POST', body: JSON.stringify({row: 3, label: 'cat'})})"
            ".then(r => arguments[0](r.status))")
        assert status == 400 and _labels(sel)[3] == ""
        _press(browser, truth[3])
        _progress(browser, "4 of 6 labelled")
        shot = Path(os.environ.get("TINYSSL_SCREENSHOT", tmp_path / "label-page.png"))
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        proc.send_signal(signal.SIGKILL)  # killed: nothing may be lost
        proc.wait()
    assert _labels(sel) == truth[:4] + ["", ""]

    proc, url = _serve(str(sel), "--data", "digits")  # restart: resumes at row 5
    browser.get(url)
    _progress(browser, "4 of 6 labelled")
    assert browser.find_element(By.ID, "caption").text.startswith(f"#5 of 6: {ROWS[4]}")
    _press(browser, truth[4])
    _progress(browser, "5 of 6 labelled")
    _press(browser, truth[5])
    _progress(browser, "6 of 6 labelled")
    browser.find_element(By.ID, "done").click()
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert _labels(sel) == truth
    assert f"next: `tinyssl fit --data digits --labels-file {sel} …`" in out
    with open(sel, newline="") as f:  # select's other columns are kept
        assert [r["index"] for r in csv.DictReader(f)] == list(map(str, ROWS))


def test_label_bad_input_is_one_sentence(tmp_path: Path) -> None:
    def invoke(*args: str) -> tuple[int, str]:
        res = CliRunner().invoke(main, ["label", *args, "--no-open"])
        return res.exit_code, res.output

    sel = _selection(tmp_path / "sel.csv")
    before = sel.read_bytes()
    # a class typed by hand that the data lacks
    sel.write_text(before.decode().replace("1031,0,1,", "1031,0,1,cat"))
    code, text = invoke(str(sel), "--data", "digits")
    assert code == 2 and "row 1 has label 'cat', not a class" in text
    # files that are gone (or another data set's): nothing is written
    images = tmp_path / "images"
    for cls in ("a", "b"):
        (images / "train" / cls).mkdir(parents=True)
        for k in range(3):
            from PIL import Image

            Image.new("RGB", (8, 8), (40 * k, 0, 0)).save(images / "train" / cls / f"{k}.png")
    listed = tmp_path / "files.csv"
    listed.write_text("rank,file,label\n1,train/a/0.png,\n2,train/b/7.png,\n")
    code, text = invoke(str(listed), "--data", f"folder:{images}")
    assert code == 2 and "1 file(s) are not training images" in text and "'train/b/7.png'" in text
    assert listed.read_text() == "rank,file,label\n1,train/a/0.png,\n2,train/b/7.png,\n"
    # a port in use
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sel.write_bytes(before)
        code, text = invoke(str(sel), "--data", "digits", "--port", str(port))
    assert code == 2 and f"port {port} on 127.0.0.1 is in use" in text
    assert sel.read_bytes() == before
    code, text = invoke(str(sel))
    assert code == 2 and "give --data" in text
