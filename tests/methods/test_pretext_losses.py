"""The four pretexts of issue 30 (exemplar, selflabel, context, infomax) on hand-made
tensors: Sinkhorn equipartition, exact context predictions, matched vs shuffled InfoNCE,
exemplar copies pulled together; their collapse signals; one step of each on random images."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F  # noqa: N812

from tinyssl.methods import Batch, get_method
from tinyssl.methods.context import NEIGHBOURS, context_pairs
from tinyssl.methods.exemplar import instance_logits, update_bank, with_current
from tinyssl.methods.heads import CollapseWarning
from tinyssl.methods.infomax import halves, infonce
from tinyssl.methods.selflabel import cluster_entropy, sinkhorn
from tinyssl.models import build_model

NEW = ["exemplar", "selflabel", "context", "infomax"]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)


def test_sinkhorn_assignments_are_equipartitioned_and_doubly_stochastic() -> None:
    # Skewed scores: every image prefers cluster 0, as a collapsing network would say.
    scores = torch.randn(48, 6) + torch.tensor([4.0, 0, 0, 0, 0, 0])
    q = sinkhorn(scores, epsilon=0.5, iterations=200)
    assert (q >= 0).all()
    torch.testing.assert_close(q.sum(1), torch.ones(48))  # each image: one unit of mass
    torch.testing.assert_close(q.sum(0), torch.full((6,), 8.0), rtol=1e-3, atol=1e-3)
    sizes = torch.bincount(q.argmax(1), minlength=6)
    assert sizes.max() <= 16 and sizes.min() >= 2  # argmax of the raw scores: all in 0
    assert torch.bincount(scores.argmax(1), minlength=6)[0] > 40


def test_cluster_entropy_is_one_when_balanced_and_zero_when_collapsed() -> None:
    balanced = torch.eye(4).repeat(8, 1)  # 32 images, 8 per cluster
    assert cluster_entropy(balanced).item() == pytest.approx(1.0)
    collapsed = torch.zeros(32, 4)
    collapsed[:, 2] = 1.0
    assert cluster_entropy(collapsed).item() == pytest.approx(0.0, abs=1e-6)


def _grid_image(size: int = 12) -> torch.Tensor:
    """One grey image whose 3×3 grid cells are filled with their cell number 0..8."""
    cell = size // 3
    x = torch.zeros(1, 1, size, size)
    for r in range(3):
        for c in range(3):
            x[0, 0, r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = 3 * r + c
    return x


def test_context_pairs_cut_the_centre_and_the_labelled_neighbour() -> None:
    x = _grid_image().repeat(8, 1, 1, 1)
    labels = torch.arange(8)
    centre, neighbour = context_pairs(x, labels, gap=0.25)
    assert centre.shape == neighbour.shape == x.shape  # resized back to the input size
    torch.testing.assert_close(centre, torch.full_like(centre, 4.0))  # cell (1, 1)
    for k in range(8):
        r, c = NEIGHBOURS[k]
        torch.testing.assert_close(neighbour[k], torch.full_like(neighbour[k], 3.0 * r + c))


def test_context_loss_is_zero_when_positions_are_predicted_exactly() -> None:
    labels = torch.randint(8, (32,))
    exact = 100.0 * F.one_hot(labels, 8).float()
    assert F.cross_entropy(exact, labels).item() < 1e-6
    wrong = 100.0 * F.one_hot((labels + 1) % 8, 8).float()
    assert F.cross_entropy(wrong, labels).item() > 50


def test_infonce_is_lower_for_matched_than_for_shuffled_pairs() -> None:
    a = torch.randn(32, 16)
    b = a + 0.1 * torch.randn(32, 16)
    eye = torch.eye(16)
    matched = infonce(a, b, eye, 0.1)
    shuffled = infonce(a, b[torch.randperm(32)], eye, 0.1)
    assert matched < 0.5 < math.log(32) < shuffled
    # the bilinear critic lets the two parts differ: b rotated is matched through W = R
    rot = torch.linalg.qr(torch.randn(16, 16))[0]
    assert infonce(a, b @ rot, rot, 0.1) < 0.5 < infonce(a, b @ rot, eye, 0.1)


def test_halves_show_complementary_parts() -> None:
    x = torch.rand(4, 3, 8, 8)
    first, second = halves(x, fill=0.5)
    shown_first, shown_second = first != 0.5, second != 0.5
    assert not (shown_first & shown_second).any()
    torch.testing.assert_close(torch.where(shown_first, first, second), x)
    assert shown_first.float().mean().item() == pytest.approx(0.5, abs=0.02)


def test_exemplar_pulls_the_copies_of_one_image_together() -> None:
    bank = F.normalize(torch.randn(20, 8), dim=1)
    index = torch.tensor([3, 7]).repeat(4)  # 4 copies each of images 3 and 7
    z = (bank[index] + 0.8 * torch.randn(8, 8)).requires_grad_(True)
    loss = F.cross_entropy(instance_logits(z, bank, 0.1), index)
    loss.backward()

    def copies_cosine(v: torch.Tensor) -> float:
        v = F.normalize(v, dim=1)
        sims = [v[index == i] @ v[index == i].T for i in (3, 7)]
        return float(sum(s[~torch.eye(4, dtype=torch.bool)].mean() for s in sims) / 2)

    with torch.no_grad():
        after = z - 0.5 * z.grad
        assert copies_cosine(after) > copies_cosine(z) + 0.05
        assert F.cross_entropy(instance_logits(after, bank, 0.1), index) < loss
    # The class weights of the batch's images are the mean of this step's copies.
    mean3 = F.normalize(F.normalize(z.detach()[index == 3], dim=1).mean(0), dim=0)
    current = with_current(bank, z, index)
    torch.testing.assert_close(current[3], mean3)
    torch.testing.assert_close(current[0], bank[0])
    # The bank moves each seen image's entry towards the mean of its copies; others stay.
    before = bank.clone()
    update_bank(bank, z.detach(), index, momentum=0.5)
    assert (bank[3] @ mean3) > (before[3] @ mean3)
    torch.testing.assert_close(bank[0], before[0])
    torch.testing.assert_close(bank.norm(dim=1), torch.ones(20))


class _Constant(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(len(x), 32) + 0.0 * x.mean()


def _batch(channels: int, n: int = 16, pool: int = 40) -> Batch:
    return Batch(torch.randint(0, 256, (n, channels, 16, 16), dtype=torch.uint8), None,
                 torch.randperm(pool)[:n])


def test_selflabel_warns_when_the_clusters_collapse() -> None:
    net = build_model("tiny-w2a2", 1, 16, 10, width_mult=0.5)
    method = get_method("selflabel")(net, 10, clusters=8, check_every=1, collapse_threshold=0)
    net.encoder = _Constant()  # every image the same features → the same cluster
    with pytest.warns(CollapseWarning, match="clusters are collapsing"):
        out = method(None, _batch(1), 0.0)
    assert out.logs["cluster_entropy"].item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", NEW)
def test_new_pretext_step_trains_the_encoder_and_logs_its_signal(name: str,
                                                                 channels: int) -> None:
    net = build_model("tiny-w2a2", channels, 16, 10, width_mult=0.5)
    method = get_method(name)(net, 10)
    method.bind_pool(40)
    assert not method.uses_labeled
    out = method(None, _batch(channels), 0.5)
    signal = {"exemplar": "instance_acc", "selflabel": "cluster_entropy",
              "context": "context_acc", "infomax": "mi_bound"}[name]
    assert torch.isfinite(out.loss) and {"embed_std", signal} <= set(out.logs)
    out.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.encoder.parameters())
    # heads live on the method, never on the exported network
    fresh = build_model("tiny-w2a2", channels, 16, 10, width_mult=0.5)
    assert net.state_dict().keys() == fresh.state_dict().keys()
    assert sum(p.numel() for n, p in method.named_parameters() if not n.startswith("net.")) > 0


def test_exemplar_bank_follows_the_step_and_needs_indices() -> None:
    net = build_model("tiny-w2a2", 1, 16, 10, width_mult=0.5)
    method = get_method("exemplar")(net, 10, copies=2)
    method.bind_pool(40)
    batch = _batch(1)
    before = method.bank.clone()
    method(None, batch, 0.0).loss.backward()
    torch.testing.assert_close(method.bank, before)  # not inside the step's graph ...
    method.after_optimizer_step(0.0)  # ... but after the optimiser step
    seen = batch.index
    assert not torch.allclose(method.bank[seen], before[seen])
    unseen = torch.ones(40, dtype=torch.bool)
    unseen[seen] = False
    torch.testing.assert_close(method.bank[unseen], before[unseen])
    with pytest.raises(RuntimeError, match="indices"):
        method(None, Batch(batch.x), 0.0)


def test_bad_options_are_one_sentence() -> None:
    net = build_model("tiny-w2a2", 1, 16, 10, width_mult=0.5)
    for name, bad in [("exemplar", {"copies": 0}), ("selflabel", {"clusters": 1}),
                      ("context", {"gap": 1.5}), ("infomax", {"pair": "quarters"})]:
        with pytest.raises(ValueError, match=name):
            get_method(name)(net, 10, **bad)
