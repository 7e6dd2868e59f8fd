"""Each pretext loss on hand-made inputs, the collapse warning, BYOL's EMA target, and one
training step of every pretext method on random images (grey and RGB)."""

from __future__ import annotations

import math

import pytest
import torch

from tinyssl.methods import Batch, get_method
from tinyssl.methods.heads import CollapseWarning, embedding_std, regression_loss
from tinyssl.methods.jigsaw import permutation_set, shuffle_tiles
from tinyssl.methods.rotation import rotate_all
from tinyssl.methods.simclr import nt_xent
from tinyssl.models import build_model

PRETEXT = ["simclr", "rotation", "byol", "simsiam", "jigsaw", "autoencoder"]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)


def test_nt_xent_is_minimal_for_identical_views() -> None:
    z = torch.eye(8)  # 8 orthogonal embeddings: every negative has cosine 0
    same = nt_xent(z, z.clone(), temperature=0.5)
    # Each anchor: positive logit 1/0.5 = 2 against 14 negatives at 0.
    assert same.item() == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + 14)), abs=1e-5)
    shuffled = nt_xent(z, z[torch.randperm(8)], temperature=0.5)
    random = nt_xent(torch.randn(8, 8), torch.randn(8, 8), temperature=0.5)
    assert same < random and same < shuffled
    # Lower temperature sharpens: identical views approach a loss of 0.
    assert nt_xent(z, z, temperature=0.05) < 1e-6


def test_nt_xent_gradient_pulls_views_together() -> None:
    z1 = torch.randn(16, 4, requires_grad=True)
    z2 = torch.randn(16, 4)
    nt_xent(z1, z2, 0.5).backward()
    with torch.no_grad():
        before = torch.cosine_similarity(z1, z2).mean()
        after = torch.cosine_similarity(z1 - 0.5 * z1.grad, z2).mean()
    assert after > before


def test_rotation_labels_match_the_rotation_applied() -> None:
    x = torch.zeros(2, 1, 5, 5)
    x[:, 0, 0, 4] = 1.0  # a bright top-right corner
    rotated, labels = rotate_all(x)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    # Counter-clockwise: top-right → top-left → bottom-left → bottom-right.
    corner = {0: (0, 4), 1: (0, 0), 2: (4, 0), 3: (4, 4)}
    for img, k in zip(rotated, labels.tolist(), strict=True):
        assert img[0].nonzero().tolist() == [list(corner[k])]


def test_regression_loss_is_zero_when_aligned_and_four_when_opposite() -> None:
    p = torch.randn(6, 16)
    assert regression_loss(p, p.clone()).item() == pytest.approx(0.0, abs=1e-6)
    assert regression_loss(p, 3.0 * p).item() == pytest.approx(0.0, abs=1e-6)  # scale-free
    assert regression_loss(p, -p).item() == pytest.approx(4.0, abs=1e-5)


def test_jigsaw_shuffle_puts_the_labelled_permutation_in_place() -> None:
    perms = permutation_set(2, 24)
    assert len({tuple(p.tolist()) for p in perms}) == 24 and perms[0].tolist() == [0, 1, 2, 3]
    x = torch.zeros(1, 1, 4, 4)
    for tile, (r, c) in enumerate([(0, 0), (0, 2), (2, 0), (2, 2)]):
        x[0, 0, r:r + 2, c:c + 2] = tile
    for label in (0, 5, 23):
        out = shuffle_tiles(x, perms, torch.tensor([label]), 2)
        seen = [out[0, 0, r, c].item() for r, c in [(0, 0), (0, 2), (2, 0), (2, 2)]]
        assert seen == perms[label].tolist()


def test_embedding_std_separates_spread_from_collapsed() -> None:
    spread = embedding_std(torch.randn(512, 64))
    assert spread.item() == pytest.approx(1 / math.sqrt(64), rel=0.1)
    collapsed = embedding_std(torch.ones(512, 64) + 1e-4 * torch.randn(512, 64))
    assert collapsed.item() < 1e-3


class _Constant(torch.nn.Module):
    """An encoder that has collapsed: the same features for every image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(len(x), 32) + 0.0 * x.mean()


def _batch(channels: int, n: int = 8) -> Batch:
    return Batch(torch.randint(0, 256, (n, channels, 16, 16), dtype=torch.uint8))


def test_collapsed_encoder_triggers_the_warning() -> None:
    net = build_model("tiny-w2a2", 1, 16, 10, width_mult=0.5)
    method = get_method("simsiam")(net, 10, check_every=1)
    with pytest.warns(CollapseWarning, match="collapsing"):
        method(None, _batch(1), 0.0)  # a random encoder is healthy: no warning ...
        net.encoder = _Constant()
        out = method(None, _batch(1), 0.0)  # ... a constant one is not
    assert out.logs["embed_std"].item() < 1e-6


def test_healthy_encoder_does_not_warn() -> None:
    import warnings

    method = get_method("simclr")(build_model("tiny-w2a2", 3, 16, 10, 0.5), 10, check_every=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        method(None, _batch(3, 32), 0.0)


def test_byol_target_follows_the_online_network_by_ema() -> None:
    net = build_model("tiny-w2a2", 1, 16, 10, width_mult=0.5)
    byol = get_method("byol")(net, 10, momentum=0.9)
    assert not any(p.requires_grad for p in byol.target_encoder.parameters())
    online = next(p for p in net.encoder.parameters() if p.dim() > 1)
    target = next(p for p in byol.target_encoder.parameters() if p.dim() > 1)
    with torch.no_grad():
        online.add_(1.0)
    before = target.clone()
    byol.after_optimizer_step(0.0)  # tau = momentum at the start
    assert torch.allclose(target, before + 0.1 * (online - before), atol=1e-6)
    assert byol.tau(1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", PRETEXT)
def test_pretext_step_backpropagates_into_the_encoder(name: str, channels: int) -> None:
    net = build_model("tiny-w2a2", channels, 16, 10, width_mult=0.5)
    method = get_method(name)(net, 10)
    assert not method.uses_labeled
    out = method(None, _batch(channels), 0.5)
    assert out.loss.dim() == 0 and torch.isfinite(out.loss)
    assert "embed_std" in out.logs
    out.loss.backward()
    grads = [p.grad for p in net.encoder.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(not k.startswith("net.classifier") for k, p in method.named_parameters()
               if p.grad is not None and p.grad.abs().sum() > 0)


def test_bad_options_are_one_sentence() -> None:
    net = build_model("tiny-w2a2", 1, 16, 10, width_mult=0.5)
    with pytest.raises(ValueError, match="temperature"):
        get_method("simclr")(net, 10, temperature=0)
    with pytest.raises(ValueError, match="permutations"):
        get_method("jigsaw")(net, 10, permutations=100)
