"""In-memory batch streams: epochs cover every image, ranks split an epoch disjointly, and
a stream's two-integer state resumes it exactly."""

from __future__ import annotations

import numpy as np
import torch

from tinyssl.data.stream import BatchStream, images_to_device

CPU = torch.device("cpu")


def test_an_epoch_visits_every_image_once() -> None:
    s = BatchStream(np.arange(100, 110), np.arange(10), batch_size=5, seed=0, device=CPU)
    first = torch.cat([s.next().index for _ in range(2)])
    assert sorted(first.tolist()) == list(range(100, 110))
    drawn = s.next()
    assert torch.equal(drawn.y, drawn.index - 100)  # labels travel with their images


def test_batches_larger_than_the_set_wrap_into_the_next_epoch() -> None:
    s = BatchStream(np.arange(3), None, batch_size=7, seed=1, device=CPU)
    assert len(s.next().index) == 7 and s.epoch == 2


def test_ranks_split_each_epoch_disjointly() -> None:
    ranks = [BatchStream(np.arange(20), None, batch_size=5, seed=3, device=CPU, rank=r, world=2)
             for r in range(2)]
    seen = [torch.cat([r.next().index for _ in range(2)]).tolist() for r in ranks]
    assert not set(seen[0]) & set(seen[1]) and sorted(seen[0] + seen[1]) == list(range(20))


def test_state_dict_resumes_exactly() -> None:
    a = BatchStream(np.arange(50), None, batch_size=8, seed=4, device=CPU)
    for _ in range(9):
        a.next()
    b = BatchStream(np.arange(50), None, batch_size=8, seed=4, device=CPU)
    b.load_state_dict(a.state_dict())
    assert all(torch.equal(a.next().index, b.next().index) for _ in range(10))


def test_images_go_to_nchw_uint8() -> None:
    x = np.arange(2 * 4 * 3 * 3, dtype=np.uint8).reshape(2, 4, 3, 3)
    t = images_to_device(x, CPU)
    assert t.shape == (2, 3, 4, 3) and t.dtype == torch.uint8 and t[1, 2, 3, 1] == x[1, 3, 1, 2]
