"""facexstream-small: the FaceXFormer design on a compact CNN backbone.

The fusion, the two-way transformer decoder with its 18 tokens and every head come from
tools/facexformer.py unchanged; only the backbone and the widths differ. The backbone is a
plain ResNet-style network (basic residual blocks with BatchNorm) whose four stages give
maps at strides 4, 8, 16 and 32, the shapes the Swin backbone of the published model gives.

Why a CNN and not a small Swin: the model is trained from scratch on about 7,000 face crops
on two CPU cores. Convolutions with BatchNorm carry the locality prior that such a small
data set cannot teach a transformer, and on this CPU a training step of this network is
cheaper than one of a Swin of similar size (measured by `python3 tools/small_model.py
--bench`; the figures are in docs/model-card.md).

    from small_model import build_small, SMALL_CONFIG
    model = build_small()            # ~2.6 M parameters, outputs in OUTPUT_NAMES order
"""

from __future__ import annotations

import os
import sys
from typing import List, Sequence

import torch
from torch import Tensor, nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from facexformer import (  # noqa: E402  (the sibling module is found through sys.path)
    OUTPUT_NAMES,
    Backbone,
    FaceXFormer,
    FaceXFormerConfig,
    PositionEmbeddingRandom,
    parameter_count,
)

# Channels and residual blocks per stage (strides 4, 8, 16, 32).
STAGE_CHANNELS = (32, 64, 128, 224)
STAGE_BLOCKS = (1, 2, 2, 2)

SMALL_CONFIG = FaceXFormerConfig(
    input_size=224,
    fused_dim=64,
    decoder_dim=64,
    decoder_heads=4,
    decoder_mlp_dim=256,
    decoder_depth=2,
    attention_downsample=2,
)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a residual path (1x1 when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act(y + self.shortcut(x))


class SmallResNet(nn.Module):
    """Stem (two stride-2 convolutions) and four stages of basic blocks."""

    def __init__(
        self, channels: Sequence[int] = STAGE_CHANNELS, blocks: Sequence[int] = STAGE_BLOCKS
    ) -> None:
        super().__init__()
        half = channels[0] // 2
        self.stem = nn.Sequential(
            nn.Conv2d(3, half, 3, 2, 1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, channels[0], 3, 2, 1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(inplace=True),
        )
        stages = []
        cin = channels[0]
        for index, (cout, count) in enumerate(zip(channels, blocks)):
            stride = 1 if index == 0 else 2
            layers = [BasicBlock(cin, cout, stride)]
            layers += [BasicBlock(cout, cout, 1) for _ in range(count - 1)]
            stages.append(nn.Sequential(*layers))
            cin = cout
        self.stages = nn.ModuleList(stages)

    def forward(self, image: Tensor) -> List[Tensor]:
        x = self.stem(image)
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps


def build_small() -> FaceXFormer:
    """The facexstream-small network, randomly initialised."""
    backbone = Backbone(SmallResNet(), STAGE_CHANNELS, 4)
    return FaceXFormer(SMALL_CONFIG, backbone=backbone)


def set_input_size(model: FaceXFormer, size: int) -> None:
    """Rebuild the positional grid for `size`-pixel inputs (training at a lower resolution).

    The random-Fourier encoding is a function of positions normalised to [-1, 1], so the
    same learned decoder sees a coarser sampling of the same encoding; the exported model
    always uses 224.
    """
    side = size // 4
    features = model.pe_layer.positional_encoding_gaussian_matrix.shape[1]
    grid = PositionEmbeddingRandom(features, side, side).grid
    model.pe_layer.grid = grid.to(model.pe_layer.grid.device)


def _bench() -> None:
    """Training-step and inference time of this model and of a small Swin of the same design."""
    import time

    from facexformer import FaceXFormerConfig as Cfg

    torch.set_num_threads(2)
    torch.manual_seed(0)
    swin = FaceXFormer(
        Cfg(swin_embed_dim=32, swin_depths=(2, 2, 2, 2), swin_heads=(1, 2, 4, 8),
            fused_dim=64, decoder_dim=64, decoder_heads=4, decoder_mlp_dim=256,
            swin_drop_path=0.1)
    )
    for name, model in (("small-resnet", build_small()), ("swin-e32-2222", swin)):
        image = torch.randn(16, 3, 224, 224)
        opt = torch.optim.AdamW(model.parameters(), 1e-3)
        model.train()
        times = []
        for _ in range(4):
            start = time.time()
            outputs = model(image)
            loss = sum(o.float().pow(2).mean() for o in outputs)
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.time() - start)
        model.eval()
        with torch.no_grad():
            start = time.time()
            for _ in range(3):
                model(image[:4])
            infer = (time.time() - start) / 3
        step = sorted(times[1:])[1]
        print(f"{name}: {parameter_count(model):,} params, train {step / 16 * 1000:.1f} ms/face"
              f" (batch 16), infer {infer / 4 * 1000:.1f} ms/face (batch 4)")


if __name__ == "__main__":
    if "--bench" in sys.argv:
        _bench()
    else:
        print(f"{parameter_count(build_small()):,} parameters; outputs {OUTPUT_NAMES}")
