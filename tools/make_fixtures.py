"""Write the tiny FaceXFormer fixtures of the TypeScript tests to test/fixtures/tiny/.

    /usr/bin/python3 tools/make_fixtures.py [--out test/fixtures/tiny] [--seed 7]

A tiny configuration of the published architecture (tools/facexformer.py tiny_config:
Swin embed 8, depths 2-2-2-2, 32-wide decoder) with seeded random weights. Every weight is
rounded to a value that float16 holds exactly, so the fp16 checkpoint carries the same
numbers as the fp32 one and one set of expected outputs serves all three checkpoints.

Files (all little-endian; manifest.json describes them):
  checkpoint.pt          torch.save({'state_dict_backbone': OrderedDict}), float32 storages
  checkpoint-fp16.pt     the same with float16 storages (int64 buffers stay int64)
  checkpoint-module.pt   the keys under a `module.` prefix (DataParallel), float16 storages
  template.onnx          weight-free graph (tools/export_onnx.py --template)
  model.onnx             runnable graph with weights and `facexstream` metadata
  input.bin              float32 [1,3,224,224]
  expected/<output>.bin  PyTorch's float32 outputs for input.bin, contract order
  dtypes.pt, dtypes.json a few tensors of every float storage type, views and a transposed
                         view, with their values: for the checkpoint reader's own tests
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from pathlib import Path

import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_onnx import (  # noqa: E402
    METADATA_KEY,
    build_metadata,
    export_model,
    make_template,
    set_metadata,
)
from facexformer import OUTPUT_NAMES, FaceXFormer, randomize_weights, tiny_config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description="write test/fixtures/tiny")
    parser.add_argument("--out", default=str(ROOT / "test" / "fixtures" / "tiny"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    model = _fp16_exact_model(args.seed)
    state = OrderedDict(model.state_dict())
    _save(state, out / "checkpoint.pt")
    _save(OrderedDict((k, _half(v)) for k, v in state.items()), out / "checkpoint-fp16.pt")
    prefixed = OrderedDict((f"module.{k}", _half(v)) for k, v in state.items())
    _save(prefixed, out / "checkpoint-module.pt")

    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(args.seed + 1))
    outputs = write_reference(model, image, out)

    provenance = {
        "source": f"random weights (tools/make_fixtures.py --seed {args.seed})",
        "license": "MIT",
    }
    metadata = build_metadata("facexformer-tiny", model, provenance)
    _export(model, out / "model.onnx", metadata, template=False)
    _export(model, out / "template.onnx", metadata, template=True)

    _save_dtype_sampler(out)

    manifest = {
        "config": tiny_config().__dict__,
        "seed": args.seed,
        "parameters": metadata["parameters"],
        **reference_manifest(image, outputs),
        "checkpoints": ["checkpoint.pt", "checkpoint-fp16.pt", "checkpoint-module.pt"],
        "keys": len(state),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for path in sorted(out.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size:>9} {path.relative_to(out)}")
    return 0


def write_reference(model: FaceXFormer, image: torch.Tensor, out: Path) -> tuple:
    """Write `image` to input.bin and the model's outputs to expected/<name>.bin."""
    (out / "expected").mkdir(parents=True, exist_ok=True)
    _write_f32(image, out / "input.bin")
    with torch.no_grad():
        outputs = model.eval()(image)
    for name, value in zip(OUTPUT_NAMES, outputs):
        _write_f32(value, out / "expected" / f"{name}.bin")
    return outputs


def reference_manifest(image: torch.Tensor, outputs: tuple) -> dict:
    """The manifest entries describing write_reference's files."""
    return {
        "input": {"file": "input.bin", "shape": list(image.shape)},
        "outputs": [
            {"name": n, "file": f"expected/{n}.bin", "shape": list(v.shape)}
            for n, v in zip(OUTPUT_NAMES, outputs)
        ],
    }


def _save_dtype_sampler(out: Path) -> None:
    """dtypes.pt: one small tensor per storage type, views with offsets, a transposed view.

    Not a model: it exercises the checkpoint reader's dtype conversion, storage offsets
    and stride checks. dtypes.json holds each tensor's shape and values as plain numbers.
    """
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5 - 2
    tensors = OrderedDict(
        [
            ("float32", base),
            ("row_view", base[1]),  # same storage, offset 4
            ("float16", base.half()),
            ("bfloat16", base.bfloat16()),
            ("float64", base.double() / 3),
            ("int64", torch.arange(5)),
            ("transposed", base.t()),
        ]
    )
    _save(tensors, out / "dtypes.pt")
    described = {
        key: {"shape": list(t.shape), "values": t.double().flatten().tolist()}
        for key, t in tensors.items()
    }
    (out / "dtypes.json").write_text(json.dumps(described, indent=1) + "\n")


def _fp16_exact_model(seed: int) -> FaceXFormer:
    model = randomize_weights(FaceXFormer(tiny_config()), seed).eval()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    return model


def _half(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.half() if tensor.is_floating_point() else tensor


def _save(state: "OrderedDict[str, torch.Tensor]", path: Path) -> None:
    # The official layout: one dict entry holding the model's state_dict.
    torch.save({"state_dict_backbone": state}, str(path))


def _write_f32(tensor: torch.Tensor, path: Path) -> None:
    tensor.detach().contiguous().numpy().astype("<f4").tofile(str(path))


def _export(model: FaceXFormer, path: Path, metadata: dict, template: bool) -> None:
    proto = export_model(model)
    if template:
        make_template(proto, model.state_dict())
    set_metadata(proto, METADATA_KEY, metadata)
    onnx.save(proto, str(path))


if __name__ == "__main__":
    sys.exit(main())
