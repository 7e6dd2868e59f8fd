"""EMA.update, which averages tensor lists gathered once, gives exactly what
torch's AveragedModel.update_parameters (walking the module trees every step) gives."""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel

from tinyssl.models import build_model
from tinyssl.train.ema import EMA


def test_ema_matches_averaged_model_bit_for_bit() -> None:
    torch.manual_seed(0)
    net = build_model("tiny-w2a2", 1, 16, 10, 0.5)
    decay = {"now": 0.0}

    @torch.no_grad()
    def lerp(ema: list[torch.Tensor], cur: list[torch.Tensor], _n: torch.Tensor) -> None:
        if torch.is_floating_point(ema[0]):
            torch._foreach_lerp_(ema, cur, 1.0 - decay["now"])
        else:
            for e, c in zip(ema, cur, strict=True):
                e.copy_(c)

    reference = AveragedModel(net, use_buffers=True, multi_avg_fn=lerp)
    ema = EMA(net, 0.99)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for step in range(5):
        loss = net(torch.rand(8, 1, 16, 16)).square().mean()  # train mode: BN buffers move
        opt.zero_grad()
        loss.backward()
        opt.step()
        decay["now"] = min(0.99, (1 + step) / (10 + step))
        reference.update_parameters(net)
        ema.update(net, step)
    a, b = reference.state_dict(), ema.state_dict()
    assert a.keys() == b.keys() and int(b["n_averaged"]) == 5
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(ema.module.encoder.features[0].weight,
                           net.encoder.features[0].weight)  # it does average
