"""What rebuilds a checkpoint's network: its ModelSpec, and a run's trained network."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tinyssl.models.net import Net
from tinyssl.models.registry import build_model
from tinyssl.runs import find_checkpoint, load_checkpoint


@dataclass(frozen=True)
class ModelSpec:
    """What `build_model` needs to rebuild a checkpoint's network."""

    name: str
    in_channels: int
    image_size: int
    num_classes: int
    width_mult: float = 1.0

    def build(self) -> Net:
        return build_model(self.name, self.in_channels, self.image_size, self.num_classes,
                           self.width_mult)


def load_net(run: Path) -> tuple[Net, dict[str, Any]]:
    """Rebuild the trained network of a run (eval mode) and return it with its checkpoint."""
    ckpt = load_checkpoint(find_checkpoint(run))
    net = ModelSpec(**ckpt["model_spec"]).build()
    net.load_state_dict(ckpt["model"])
    return net.eval(), ckpt


def model_spec_dict(spec: ModelSpec) -> dict[str, Any]:
    return asdict(spec)
