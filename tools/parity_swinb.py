"""Write a random Swin-B FaceXFormer checkpoint in the published layout and its outputs.

    /usr/bin/python3 tools/parity_swinb.py --out DIR [--seed 3] [--batch 2]

For the end-to-end parity check of the checkpoint import (test/model-import.test.ts, run
with FXS_PARITY=1): DIR/checkpoint.pt is torch.save({'state_dict_backbone': ...}) with all
505 keys of the published model and seeded random weights; DIR/input.bin and
DIR/expected/<output>.bin are float32 little-endian, described by DIR/manifest.json.
The TypeScript side imports the checkpoint into models/templates/facexformer-swin-b.onnx,
runs it in ONNX Runtime and compares. Takes ~20 s and ~400 MB of disk.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from facexformer import (  # noqa: E402
    FaceXFormer,
    randomize_weights,
    save_official_checkpoint,
    swin_b_config,
)
from make_fixtures import reference_manifest, write_reference  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description="random Swin-B checkpoint and its outputs")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    model = randomize_weights(FaceXFormer(swin_b_config()), args.seed).eval()
    state = model.state_dict()
    save_official_checkpoint(state, str(out / "checkpoint.pt"))

    generator = torch.Generator().manual_seed(args.seed + 1)
    image = torch.randn(args.batch, 3, 224, 224, generator=generator)
    outputs = write_reference(model, image, out)
    manifest = {"seed": args.seed, "keys": len(state), **reference_manifest(image, outputs)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    seconds = round(time.perf_counter() - started, 1)
    print(json.dumps({"out": str(out), "keys": len(state), "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
