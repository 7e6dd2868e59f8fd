"""Official download locations and checksums, for machines that have internet.

Nothing here runs unless a source's file is missing; `fetch` verifies the md5 before the
file is moved into place, so a partial or tampered download never reaches the loaders.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from pathlib import Path

from tinyssl.data.types import DataError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
STL10_URL = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
STL10_MD5 = "91f7769df0f17e558f3565bffb0c7dfb"
MEDMNIST_URL = "https://zenodo.org/records/10519652/files/{name}.npz?download=1"


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: Path, md5: str | None) -> Path:
    """Download `url` to `dest` (atomically), checking `md5` when given."""
    from tinyssl.runs import atomic_output

    try:
        with atomic_output(dest) as out, urllib.request.urlopen(url, timeout=60) as resp:
            h = hashlib.md5()
            while block := resp.read(1 << 20):
                h.update(block)
                out.write(block)
            if md5 is not None and (got := h.hexdigest()) != md5:
                raise DataError(f"download of {url} is corrupt: md5 {got}, expected {md5}.")
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException
            ) as e:  # the network failed; a disk that fails is the CLI's OS-error sentence
        raise DataError(f"could not download {url} ({e}); without internet, place the file "
                        f"at {dest} yourself.") from None
    return dest
