"""Temperature scaling (Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural
Networks", ICML 2017): one scalar T, fitted on held-out validation logits by minimising
their negative log-likelihood, divides the logits so that a confidence of 0.9 means about
90 % right. T changes no prediction (argmax), only how sure the network says it is.

Why: the origin's pseudo-label growth adds images above 0.9 confidence; the 2-bit
network's raw confidence is over-confident (on pbc64 at 4 labels/class about half of the
images it added were wrong). Ten lines of torch: the calibration libraries (netcal, …) would
bring a dependency for one LBFGS fit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812


def fit_temperature(logits: torch.Tensor, y: torch.Tensor, max_iter: int = 100) -> float:
    """The T > 0 minimising the NLL of softmax(logits / T) on labels `y` (LBFGS on log T)."""
    if len(logits) == 0:
        raise ValueError("temperature scaling needs validation images (val_per_class > 0).")
    logits, y = logits.detach().float().cpu(), y.detach().long().cpu()
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


def nll(logits: torch.Tensor, y: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of labels `y` under softmax(logits / temperature)."""
    return float(F.cross_entropy(logits.float() / temperature, y.long()))


def log_probs(probs: np.ndarray) -> torch.Tensor:
    """log p: the logits up to a per-row constant, which softmax ignores. Only exact zeros
    are clipped (to the dtype's smallest normal number): a clip at 1e-12 would shorten the
    margins of confident images and bias the fitted temperature."""
    probs = np.asarray(probs)
    return torch.from_numpy(np.log(np.clip(probs, np.finfo(probs.dtype).tiny, None)))


def scale_probs(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax probabilities → those of the logits divided by T."""
    return (log_probs(probs) / temperature).softmax(1).numpy()


def calibrate_probs(probs: np.ndarray, val_probs: np.ndarray, val_y: np.ndarray
                    ) -> tuple[np.ndarray, float]:
    """`probs` rescaled by the temperature fitted on the validation probabilities; and T."""
    temperature = fit_temperature(log_probs(val_probs), torch.from_numpy(val_y))
    return scale_probs(probs, temperature), temperature
