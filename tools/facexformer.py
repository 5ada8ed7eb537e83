"""FaceXFormer in PyTorch, laid out key for key like the published checkpoint.

This is the reference network of facexstream's dev tools: the ONNX exporter, the fixture
maker, the parity check and the benchmark build it from here. Its state_dict matches the
published `state_dict_backbone` (505 keys for Swin-B), so
`model.load_state_dict(torch.load(path)['state_dict_backbone'])` works unchanged.

Config API
----------
    from facexformer import FaceXFormer, FaceXFormerConfig, swin_b_config, tiny_config

    cfg = swin_b_config()              # the published architecture
    cfg = tiny_config()                # a few hundred thousand parameters, for tests
    cfg = FaceXFormerConfig(swin_embed_dim=32, swin_depths=(2, 2, 2, 2),
                            swin_heads=(1, 2, 4, 8), decoder_dim=64, decoder_heads=4,
                            decoder_mlp_dim=256, fused_dim=64)
    model = FaceXFormer(cfg).eval()
    landmarks, headpose, attributes, visibility, age, gender, race, parsing = model(image)

`FaceXFormerConfig` fields (defaults are Swin-B as published):
    input_size        224   image side in pixels (the positional grid is built for it)
    swin_embed_dim    128   Swin patch-embedding channels; stage i has embed * 2**i
    swin_depths       (2, 2, 18, 2)  blocks per Swin stage
    swin_heads        (4, 8, 16, 32) attention heads per Swin stage
    swin_window       7     Swin window side
    swin_patch        4     Swin patch side (the stride of the first stage)
    fused_dim         256   channels of each per-scale projection (`linear_c.*.proj`)
    decoder_dim       256   decoder width; also the output of `linear_fuse`
    decoder_heads     8     heads of every decoder attention
    decoder_mlp_dim   2048  hidden width of the decoder token MLP
    decoder_depth     2     two-way attention blocks
    attention_downsample  2 channel reduction inside the cross attentions
    swin_drop_path    0.5   Swin stochastic-depth rate (training only; swin_b's value)

Pluggable backbone
------------------
`FaceXFormer(cfg, backbone=Backbone(module, channels, stride, stages))` puts any network
under the same fusion, decoder and heads. `module` is stored as `self.backbone` (so its
weights live under `backbone.*`), `channels` are the channel counts of its 4 stage maps,
`stride` is the downsampling of the first (largest) map, and `stages(module, image)`
returns the 4 maps as NCHW tensors, largest first. Without `backbone`, the torchvision
Swin-B layout is built: `backbone.0` is the Swin `features` Sequential and `backbone.1` its
final LayerNorm, which no output uses but the checkpoint holds.

Export mode
-----------
`model.prepare_for_export()` swaps the Swin window attention and patch merging for
versions with the same math whose shift masks are precomputed constants and that call no
dropout, so the ONNX graph stays small and holds no training-mode Dropout.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from types import MethodType
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

# Outputs of forward(), in the order of the ONNX contract (src/model/contract.ts).
OUTPUT_NAMES = (
    "landmarks",
    "headpose",
    "attributes",
    "visibility",
    "age",
    "gender",
    "race",
    "parsing",
)

# Width of each scalar head, in the order of the decoder's single-purpose tokens.
HEAD_SIZES = (
    ("landmarks", 136),
    ("pose", 3),
    ("attribute", 40),
    ("visibility", 29),
    ("age", 8),
    ("gender", 2),
    ("race", 5),
)
PARSING_CLASSES = 11


@dataclass
class FaceXFormerConfig:
    input_size: int = 224
    swin_embed_dim: int = 128
    swin_depths: Tuple[int, ...] = (2, 2, 18, 2)
    swin_heads: Tuple[int, ...] = (4, 8, 16, 32)
    swin_window: int = 7
    swin_patch: int = 4
    fused_dim: int = 256
    decoder_dim: int = 256
    decoder_heads: int = 8
    decoder_mlp_dim: int = 2048
    decoder_depth: int = 2
    attention_downsample: int = 2
    swin_drop_path: float = 0.5


def swin_b_config() -> FaceXFormerConfig:
    """The published FaceXFormer: Swin-B backbone, 256-wide decoder."""
    return FaceXFormerConfig()


def tiny_config() -> FaceXFormerConfig:
    """A tiny model of the same design for fixtures: embed 8, depths 2-2-2-2, 32-wide decoder."""
    return FaceXFormerConfig(
        swin_embed_dim=8,
        swin_heads=(1, 2, 4, 8),
        swin_depths=(2, 2, 2, 2),
        fused_dim=32,
        decoder_dim=32,
        decoder_heads=4,
        decoder_mlp_dim=64,
    )


PRESETS = {"swin-b": swin_b_config, "tiny": tiny_config}


@dataclass
class Backbone:
    """A feature extractor: `stages(module, image)` returns 4 NCHW maps, largest first."""

    module: nn.Module
    channels: Sequence[int]
    stride: int
    stages: Callable[[nn.Module, Tensor], List[Tensor]] = field(
        default=lambda module, image: module(image)
    )


# ---------------------------------------------------------------- Swin backbone


def swin_backbone(cfg: FaceXFormerConfig) -> Backbone:
    """torchvision's Swin (v1) without its classifier head, as the published model uses it."""
    swin = torchvision.models.swin_transformer.SwinTransformer(
        patch_size=[cfg.swin_patch, cfg.swin_patch],
        embed_dim=cfg.swin_embed_dim,
        depths=list(cfg.swin_depths),
        num_heads=list(cfg.swin_heads),
        window_size=[cfg.swin_window, cfg.swin_window],
        stochastic_depth_prob=cfg.swin_drop_path,
    )
    # children: features, norm, permute, avgpool, flatten, head. The published model keeps
    # all but the head, which gives the checkpoint its `backbone.0.*` and `backbone.1.*` keys.
    module = nn.Sequential(*list(swin.children())[:-1])
    channels = [cfg.swin_embed_dim * 2**i for i in range(len(cfg.swin_depths))]
    return Backbone(module, channels, cfg.swin_patch, _swin_stages)


def _swin_stages(module: nn.Module, image: Tensor) -> List[Tensor]:
    # features = [patch embed, stage 1, merge, stage 2, merge, stage 3, merge, stage 4]:
    # the outputs of the odd entries are the four scales (NHWC in torchvision).
    maps = []
    x = image
    for index, layer in enumerate(module[0]):
        x = layer(x)
        if index % 2 == 1:
            maps.append(x.permute(0, 3, 1, 2))
    return maps


# ---------------------------------------------------------------- decoder parts


class Attention(nn.Module):
    """Multi-head attention whose q/k/v projections may shrink the channel count."""

    def __init__(self, dim: int, heads: int, downsample: int = 1) -> None:
        super().__init__()
        inner = dim // downsample
        if inner % heads != 0:
            raise ValueError(f"{heads} heads do not divide {inner} attention channels")
        self.heads = heads
        self.q_proj = nn.Linear(dim, inner)
        self.k_proj = nn.Linear(dim, inner)
        self.v_proj = nn.Linear(dim, inner)
        self.out_proj = nn.Linear(inner, dim)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        q = self._split(self.q_proj(q))
        k = self._split(self.k_proj(k))
        v = self._split(self.v_proj(v))
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(q.shape[-1])
        mixed = torch.matmul(torch.softmax(scores, dim=-1), v)
        batch, heads, tokens, per_head = mixed.shape
        merged = mixed.transpose(1, 2).reshape(batch, tokens, heads * per_head)
        return self.out_proj(merged)

    def _split(self, x: Tensor) -> Tensor:
        batch, tokens, channels = x.shape
        return x.reshape(batch, tokens, self.heads, channels // self.heads).transpose(1, 2)


class TokenMLP(nn.Module):
    """lin1 -> activation -> lin2, the feed-forward of a two-way block."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden)
        self.lin2 = nn.Linear(hidden, dim)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.lin2(self.act(self.lin1(x)))


class TwoWayBlock(nn.Module):
    """Token self-attention, token-to-image attention, token MLP, image-to-token attention."""

    def __init__(self, cfg: FaceXFormerConfig, first: bool) -> None:
        super().__init__()
        dim, heads, down = cfg.decoder_dim, cfg.decoder_heads, cfg.attention_downsample
        self.first = first
        self.self_attn = Attention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = Attention(dim, heads, down)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = TokenMLP(dim, cfg.decoder_mlp_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = Attention(dim, heads, down)

    def forward(
        self, tokens: Tensor, image: Tensor, token_pe: Tensor, image_pe: Tensor
    ) -> Tuple[Tensor, Tensor]:
        # The first block replaces the tokens by their self-attention (no residual, no PE),
        # as the published decoder does.
        if self.first:
            tokens = self.self_attn(tokens, tokens, tokens)
        else:
            with_pe = tokens + token_pe
            tokens = tokens + self.self_attn(with_pe, with_pe, tokens)
        tokens = self.norm1(tokens)

        keys = image + image_pe
        tokens = self.norm2(tokens + self.cross_attn_token_to_image(tokens + token_pe, keys, image))
        tokens = self.norm3(tokens + self.mlp(tokens))

        image = image + self.cross_attn_image_to_token(keys, tokens + token_pe, tokens)
        return tokens, self.norm4(image)


class TwoWayTransformer(nn.Module):
    def __init__(self, cfg: FaceXFormerConfig) -> None:
        super().__init__()
        dim = cfg.decoder_dim
        self.layers = nn.ModuleList(
            TwoWayBlock(cfg, first=(i == 0)) for i in range(cfg.decoder_depth)
        )
        self.final_attn_token_to_image = Attention(dim, cfg.decoder_heads, cfg.attention_downsample)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(self, image: Tensor, image_pe: Tensor, tokens: Tensor) -> Tuple[Tensor, Tensor]:
        # NCHW -> N, HW, C
        image = image.flatten(2).transpose(1, 2)
        image_pe = image_pe.flatten(2).transpose(1, 2)
        token_pe = tokens
        for layer in self.layers:
            tokens, image = layer(tokens, image, token_pe, image_pe)
        attended = self.final_attn_token_to_image(tokens + token_pe, image + image_pe, image)
        return self.norm_final_attn(tokens + attended), image


class HeadMLP(nn.Module):
    """`layers` linear layers with ReLU between them."""

    def __init__(self, dim: int, hidden: int, out: int, depth: int = 3) -> None:
        super().__init__()
        widths = [dim] + [hidden] * (depth - 1) + [out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: Tensor) -> Tensor:
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < last:
                x = F.relu(x)
        return x


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of an NCHW map (eps 1e-6)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        centred = x - x.mean(1, keepdim=True)
        variance = centred.pow(2).mean(1, keepdim=True)
        normed = centred / torch.sqrt(variance + self.eps)
        return self.weight[:, None, None] * normed + self.bias[:, None, None]


class FaceDecoder(nn.Module):
    """18 learned tokens read the fused image map; MLP heads and a mask upscaler read them."""

    def __init__(self, cfg: FaceXFormerConfig) -> None:
        super().__init__()
        dim = cfg.decoder_dim
        self.transformer = TwoWayTransformer(cfg)
        for name, _ in HEAD_SIZES:
            setattr(self, f"{name}_token", nn.Embedding(1, dim))
        self.mask_tokens = nn.Embedding(PARSING_CLASSES, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            ChannelLayerNorm(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.output_hypernetwork_mlps = HeadMLP(dim, dim, dim // 8)
        for name, size in HEAD_SIZES:
            setattr(self, f"{name}_prediction_head", HeadMLP(dim, dim, size))

    def forward(self, image: Tensor, image_pe: Tensor) -> List[Tensor]:
        batch, channels, height, width = image.shape
        weights = [getattr(self, f"{name}_token").weight for name, _ in HEAD_SIZES]
        tokens = torch.cat(weights + [self.mask_tokens.weight], dim=0)
        tokens = tokens.unsqueeze(0).expand(batch, -1, -1)

        tokens, image = self.transformer(image, image_pe, tokens)

        outputs = []
        for index, (name, _) in enumerate(HEAD_SIZES):
            head = getattr(self, f"{name}_prediction_head")
            outputs.append(head(tokens[:, index, :]))

        image = image.transpose(1, 2).reshape(batch, channels, height, width)
        upscaled = self.output_upscaling(image)
        _, up_channels, up_height, up_width = upscaled.shape
        hyper = self.output_hypernetwork_mlps(tokens[:, len(HEAD_SIZES) :, :])
        masks = torch.matmul(hyper, upscaled.reshape(batch, up_channels, up_height * up_width))
        outputs.append(masks.reshape(batch, PARSING_CLASSES, up_height, up_width))
        return outputs


class PositionEmbeddingRandom(nn.Module):
    """Random-Fourier positional encoding of a fixed grid (the gaussian matrix is a buffer)."""

    def __init__(self, features: int, height: int, width: int) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, features))
        # Cell centres mapped to [-1, 1], (x, y) last: a constant of the graph. Only the
        # grid is constant; the encoding is computed from the matrix so that a weight-free
        # export can take the matrix from a checkpoint.
        ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height
        xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width
        grid = torch.stack(
            [xs.view(1, width).expand(height, width), ys.view(height, 1).expand(height, width)],
            dim=-1,
        )
        self.register_buffer("grid", grid * 2 - 1, persistent=False)

    def forward(self) -> Tensor:
        angles = torch.matmul(self.grid, self.positional_encoding_gaussian_matrix) * (2 * math.pi)
        encoding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
        return encoding.permute(2, 0, 1).unsqueeze(0)


class ScaleProjection(nn.Module):
    """Projects an NCHW map to `dim` channels per pixel (`linear_c.*.proj`)."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(channels, dim)

    def forward(self, x: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        projected = self.proj(x.flatten(2).transpose(1, 2))
        return projected.transpose(1, 2).reshape(batch, -1, height, width)


class FaceXFormer(nn.Module):
    """FaceXFormer: image [N,3,S,S] -> the 8 outputs of OUTPUT_NAMES, in that order."""

    def __init__(
        self, cfg: Optional[FaceXFormerConfig] = None, backbone: Optional[Backbone] = None
    ) -> None:
        super().__init__()
        cfg = cfg or swin_b_config()
        backbone = backbone or swin_backbone(cfg)
        if len(backbone.channels) != 4:
            raise ValueError(f"a backbone must give 4 stage maps, not {len(backbone.channels)}")
        self.cfg = cfg
        self.backbone = backbone.module
        self._stages = backbone.stages
        side = cfg.input_size // backbone.stride

        self.pe_layer = PositionEmbeddingRandom(cfg.decoder_dim // 2, side, side)
        self.face_decoder = FaceDecoder(cfg)
        self.linear_c = nn.ModuleList(ScaleProjection(c, cfg.fused_dim) for c in backbone.channels)
        self.linear_fuse = nn.Conv2d(4 * cfg.fused_dim, cfg.decoder_dim, kernel_size=1, bias=False)

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        maps = self._stages(self.backbone, image)
        size = (maps[0].shape[2], maps[0].shape[3])
        scaled = []
        for feature, project in zip(maps, self.linear_c):
            projected = project(feature)
            if projected.shape[2:] != maps[0].shape[2:]:
                projected = F.interpolate(
                    projected, size=size, mode="bilinear", align_corners=False
                )
            scaled.append(projected)
        # Deepest scale first, as the published fusion concatenates them.
        fused = self.linear_fuse(torch.cat(scaled[::-1], dim=1))
        return tuple(self.face_decoder(fused, self.pe_layer()))

    def prepare_for_export(self) -> "FaceXFormer":
        """Swap Swin attention and merging for export-friendly equivalents (same math)."""
        swin = torchvision.models.swin_transformer
        modules = list(self.backbone.modules())
        attentions = [m for m in modules if isinstance(m, swin.ShiftedWindowAttention)]
        if not attentions:
            return self  # another backbone: nothing to swap
        for module in attentions:
            _freeze_window_attention(module)
        for module in modules:
            if isinstance(module, swin.PatchMerging):
                module.forward = MethodType(_merge_patches, module)
        _register_masks(self.backbone, self.cfg.input_size // self.cfg.swin_patch)
        return self


# ---------------------------------------------------------------- export-friendly Swin


def _register_masks(backbone: nn.Module, side: int) -> None:
    # Walk the stages in order, tracking the map side, and give each window attention the
    # shift mask of its map size as a constant.
    if not isinstance(backbone, nn.Sequential):
        return
    for layer in backbone[0]:
        if isinstance(layer, torchvision.models.swin_transformer.PatchMerging):
            side = (side + 1) // 2
            continue
        for block in layer.modules():
            if isinstance(block, torchvision.models.swin_transformer.ShiftedWindowAttention):
                _set_static_geometry(block, side)


def _set_static_geometry(attn: nn.Module, side: int) -> None:
    window = attn.window_size[0]
    padded = side + (window - side % window) % window
    shift = 0 if window >= padded else attn.shift_size[0]
    attn._fx_side = side
    attn._fx_padded = padded
    attn._fx_shift = shift
    mask = _shared_shift_mask(padded, window, shift) if shift > 0 else None
    attn.register_buffer("_fx_mask", mask, persistent=False)


_MASKS: dict = {}


def _shared_shift_mask(padded: int, window: int, shift: int) -> Tensor:
    # One tensor per geometry: the tracer then emits one constant that every block of a
    # stage shares, instead of a copy per block.
    key = (padded, window, shift)
    if key not in _MASKS:
        _MASKS[key] = _shift_mask(padded, window, shift)
    return _MASKS[key]


def _shift_mask(padded: int, window: int, shift: int) -> Tensor:
    """[windows, 1, W*W, W*W], true between pixels of different shifted regions.

    After the cyclic shift a window can hold pixels from up to four regions of the
    unshifted map that were not neighbours; torchvision adds -100 to their scores. The
    mask becomes a graph constant; as booleans it takes a quarter of the float mask
    (150 KB at 56x56 instead of 600 KB), which matters for the small models.
    """
    region = torch.zeros(padded, padded)
    bounds = ((0, padded - window), (padded - window, padded - shift), (padded - shift, padded))
    label = 0
    for top, bottom in bounds:
        for left, right in bounds:
            region[top:bottom, left:right] = label
            label += 1
    per_window = padded // window
    region = region.view(per_window, window, per_window, window).permute(0, 2, 1, 3)
    region = region.reshape(per_window * per_window, window * window)
    return (region.unsqueeze(1) != region.unsqueeze(2)).unsqueeze(1)


def _freeze_window_attention(attn: nn.Module) -> None:
    attn.forward = MethodType(_window_attention, attn)


def _window_attention(self: nn.Module, x: Tensor) -> Tensor:
    """torchvision's shifted_window_attention for a known map size, without dropout.

    Every reshape uses Python integers fixed at prepare time and -1 for the batch, so
    the exported graph computes no shapes at run time.
    """
    channels = self.proj.in_features
    side, padded, shift = self._fx_side, self._fx_padded, self._fx_shift
    window = self.window_size[0]
    heads = self.num_heads
    per_window = padded // window
    windows = per_window * per_window
    pixels = window * window

    if padded != side:
        x = F.pad(x, (0, 0, 0, padded - side, 0, padded - side))
    if shift > 0:
        x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    x = x.reshape(-1, per_window, window, per_window, window, channels)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, pixels, channels)

    qkv = F.linear(x, self.qkv.weight, self.qkv.bias)
    qkv = qkv.reshape(-1, pixels, 3, heads, channels // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    scores = torch.matmul(q * (channels // heads) ** -0.5, k.transpose(-2, -1))
    scores = scores + self.get_relative_position_bias()
    if shift > 0:
        # Same numbers as adding a -100/0 mask: x - 100 where masked, x untouched elsewhere.
        scores = scores.reshape(-1, windows, heads, pixels, pixels)
        scores = torch.where(self._fx_mask, scores - 100.0, scores)
        scores = scores.reshape(-1, heads, pixels, pixels)
    mixed = torch.matmul(torch.softmax(scores, dim=-1), v)
    x = mixed.transpose(1, 2).reshape(-1, pixels, channels)
    x = F.linear(x, self.proj.weight, self.proj.bias)

    x = x.reshape(-1, per_window, per_window, window, window, channels)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, padded, padded, channels)
    if shift > 0:
        x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
    if padded != side:
        x = x[:, :side, :side, :]
    return x


def _merge_patches(self: nn.Module, x: Tensor) -> Tensor:
    """torchvision's PatchMerging for even map sides, without the shape-dependent pad."""
    if x.shape[1] % 2 or x.shape[2] % 2:
        x = F.pad(x, (0, 0, 0, x.shape[2] % 2, 0, x.shape[1] % 2))
    merged = torch.cat(
        [x[:, 0::2, 0::2, :], x[:, 1::2, 0::2, :], x[:, 0::2, 1::2, :], x[:, 1::2, 1::2, :]], -1
    )
    return self.reduction(self.norm(merged))


def randomize_weights(model: nn.Module, seed: int, noise: float = 0.02) -> nn.Module:
    """Seeded random weights: the default init plus noise on every float entry.

    The noise makes LayerNorm scales, biases and embeddings non-trivial, so a test that
    reads a weight from the wrong key or misses a bias cannot pass by luck.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                drawn = _seeded_init(tensor, name, generator)
                tensor.copy_(drawn + noise * torch.randn(tensor.shape, generator=generator))
    return model


def _seeded_init(tensor: Tensor, name: str, generator: torch.Generator) -> Tensor:
    # Drawn from `generator` only, never from the global RNG, so a seed fixes every value.
    if name.endswith("positional_encoding_gaussian_matrix"):
        return torch.randn(tensor.shape, generator=generator)
    if name.endswith("relative_position_bias_table"):
        return 0.02 * torch.randn(tensor.shape, generator=generator)
    if tensor.dim() >= 2:
        fan_in = tensor[0].numel()
        return torch.randn(tensor.shape, generator=generator) / math.sqrt(fan_in)
    # Vectors: norm scales start at 1, biases at 0.
    return torch.ones_like(tensor) if name.endswith("weight") else torch.zeros_like(tensor)


def load_official_state_dict(path: str) -> dict:
    """The `state_dict_backbone` of an official checkpoint, without any `module.` prefix."""
    checkpoint = torch.load(path, map_location="cpu")
    state = checkpoint.get("state_dict_backbone", checkpoint)
    clean = {}
    for key, value in state.items():
        key = key[len("module.") :] if key.startswith("module.") else key
        clean[key] = value.float() if value.is_floating_point() else value
    return clean


def save_official_checkpoint(state: dict, path: str) -> None:
    """torch.save in the official layout: {'state_dict_backbone': OrderedDict}."""
    torch.save({"state_dict_backbone": OrderedDict(state)}, path)


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters (buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def _self_check() -> None:
    torch.manual_seed(0)
    model = FaceXFormer(tiny_config()).eval()
    image = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        eager = model(image)
        model.prepare_for_export()
        frozen = model(image)
    for name, a, b in zip(OUTPUT_NAMES, eager, frozen):
        print(name, tuple(a.shape), float((a - b).abs().max()))
    print("keys", len(FaceXFormer(swin_b_config()).state_dict()))


if __name__ == "__main__":
    _self_check()
