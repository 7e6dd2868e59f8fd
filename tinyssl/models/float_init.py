"""Start a quantized CNV network from its trained float twin, with fitted scales.

Copying float weights into a quantized layer as they are would waste its few levels: the
quantizers have a constant range of [-1, 1] (what FINN compiles), while trained float
weights are a few hundredths wide, so at 2 bits nearly all of them would round to 0. But
every quantized conv/linear layer here is followed by a BatchNorm, and BatchNorm undoes any
per-channel scale of its input. So each output channel c gets its own scale s_c, fitted to
minimise ||w_c - s_c·Q(w_c / s_c)||², the layer keeps w_c / s_c, and the BatchNorm's running
statistics absorb s_c. Activations work the same way: the BatchNorm's affine output is
multiplied by a per-layer factor a, fitted on calibration images to minimise the error of
Q(clip(a·z)) / a against the twin's hard-tanh(z); the next layer's statistics absorb a.
At 8 bits this reproduces the float twin's predictions almost exactly (tested); at 1–2 bits
it is the least-squares starting point that quantization-aware training then refines.

Brevitas' own calibration (`brevitas.graph.calibrate`) fits learned/statistics-based scales;
our quantizers keep constant scales on purpose (they streamline into FINN thresholds), so
the fit has to move into the weights and BatchNorms instead, which is what this module does.
"""

from __future__ import annotations

import torch
from torch import nn

from tinyssl.models.net import Net

#: Candidate scales, as fractions of a channel's largest |weight| (or of 1 for activations).
_WEIGHT_FRACTIONS = torch.linspace(0.05, 1.0, 96)
_ACT_FACTORS = torch.cat([torch.linspace(0.25, 1.0, 31), torch.linspace(1.05, 4.0, 60)])


def quantize_levels(x: torch.Tensor, bits: int) -> torch.Tensor:
    """What the BNN-PYNQ quantizers do to values: bipolar at 1 bit, else round to the
    narrow signed grid k / (2^(b-1) - 1) in [-1, 1]."""
    if bits == 1:
        return torch.where(x >= 0, 1.0, -1.0)
    top = 2 ** (bits - 1) - 1
    return torch.round(x.clamp(-1.0, 1.0) * top) / top


def fit_weight_scales(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Per output channel s minimising ||w - s·Q(w/s)||² (closed form mean|w| at 1 bit)."""
    w = weight.detach().flatten(1).double()
    if bits == 1:
        return w.abs().mean(1).clamp(min=1e-12).float()
    top = w.abs().amax(1).clamp(min=1e-12)
    scales = top[:, None] * _WEIGHT_FRACTIONS.to(w)[None, :]  # C × K
    q = quantize_levels(w[:, None, :] / scales[..., None], bits) * scales[..., None]
    err = (q - w[:, None, :]).pow(2).sum(-1)
    return scales.gather(1, err.argmin(1, keepdim=True)).squeeze(1).float()


def fit_act_factor(z: torch.Tensor, bits: int) -> float:
    """Factor a minimising E[(Q(clip(a·z))/a - hardtanh(z))²] over calibration outputs z."""
    if bits == 1:
        return 1.0  # sign() does not depend on a
    z = z.detach().flatten().double()
    if z.numel() > 200_000:
        z = z[torch.randperm(z.numel(), generator=torch.Generator().manual_seed(0))[:200_000]]
    target = z.clamp(-1.0, 1.0)
    a = _ACT_FACTORS.to(z)[:, None]
    err = (quantize_levels(a * z[None, :], bits) / a - target[None, :]).pow(2).mean(1)
    return float(a[err.argmin(), 0])


def _layers(net: Net, classifier: bool) -> list[tuple[nn.Module, nn.Module, nn.Module | None]]:
    """(linear op, BatchNorm, activation or None) in forward order, pools skipped."""
    mods = [m for m in (*net.encoder.features, *net.encoder.fc)
            if not isinstance(m, nn.MaxPool2d)]
    triples: list[tuple[nn.Module, nn.Module, nn.Module | None]] = [
        (mods[i], mods[i + 1], mods[i + 2]) for i in range(0, len(mods), 3)]
    if classifier:
        triples.append((net.classifier.linear, net.classifier.norm, None))
    return triples


def _bn_inputs(net: Net, bns: list[nn.Module], x: torch.Tensor) -> list[torch.Tensor]:
    """What each BatchNorm in `bns` receives when `net` (eval mode) sees `x`."""
    seen: list[torch.Tensor] = []
    hooks = [bn.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
             for bn in bns]
    net.eval()
    net(x)
    for h in hooks:
        h.remove()
    return seen


def _moments(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dims = [d for d in range(t.dim()) if d != 1]
    return t.mean(dims), t.var(dims).clamp(min=1e-12)


@torch.no_grad()
def init_from_float_twin(quant: Net, twin: Net, weight_bits: int, act_bits: int,
                         calibration: torch.Tensor, classifier: bool = True) -> None:
    """Load `twin`'s weights into `quant` (same family and shape) with fitted scales.

    calibration: float images N×C×H×W in [0, 1] (a few hundred training images). On them the
    twin's pre-activation ranges give the activation factors, and each quantized BatchNorm's
    running statistics are corrected, layer by layer, by how far the quantized layer's
    output moments drift from the (rescaled) twin's (empirical bias correction, Nagel et al.
    2019): without it, at 2 bits the accumulated shift made the starting network predict one
    class. `classifier=False` takes the encoder only (the twin was trained on other classes).
    """
    if classifier:
        quant.load_state_dict(twin.state_dict())  # same keys; then rescale layer by layer
    else:
        quant.encoder.load_state_dict(twin.encoder.state_dict())
    twin_layers, quant_layers = _layers(twin, classifier), _layers(quant, classifier)
    twin_in = _bn_inputs(twin, [bn for _, bn, _ in twin_layers], calibration)
    prev = 1.0  # the quantized layer's input is ≈ prev × the twin's input
    for i, ((op_f, bn_f, act_f), (op_q, bn_q, _)) in enumerate(
            zip(twin_layers, quant_layers, strict=True)):
        s = fit_weight_scales(op_f.weight, weight_bits)
        op_q.weight.copy_(op_f.weight / s.view(-1, *[1] * (op_f.weight.dim() - 1)))
        k = prev / s  # the quantized layer's output ≈ k × the twin's, per channel
        mean_t, var_t = _moments(twin_in[i])
        mean_q, var_q = _moments(_bn_inputs(quant, [bn_q], calibration)[0])
        bn_q.running_mean.copy_(mean_q + k * (bn_f.running_mean - mean_t))
        bn_q.running_var.copy_(bn_f.running_var * var_q / var_t)
        if act_f is None:
            break
        z = bn_f(twin_in[i])  # the twin's pre-activation on the calibration images
        a = fit_act_factor(z, act_bits)
        bn_q.weight.copy_(bn_f.weight * a)
        bn_q.bias.copy_(bn_f.bias * a)
        prev = a
