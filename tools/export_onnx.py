"""Export FaceXFormer to ONNX for facexstream, or write a weight-free template.

Run with Debian's Python, which has torch 1.13 and onnx 1.12:

    /usr/bin/python3 tools/export_onnx.py --checkpoint ckpts/model.pt --out facexformer.onnx
    /usr/bin/python3 tools/export_onnx.py --preset tiny --seed 7 --out tiny.onnx
    /usr/bin/python3 tools/export_onnx.py --preset swin-b --template \\
        --out models/templates/facexformer-swin-b.onnx

The graph: opset 17, input `image` [N,3,224,224], the 8 outputs of the model contract
(src/model/contract.ts) with a dynamic batch axis, and the `facexstream` metadata entry.
Initializers keep their state-dict key as name (no constant folding), so a template whose
weights were removed can be filled key by key from a checkpoint. A template also carries
a `facexstream.template` entry: JSON {schema, keys: [{key, shape, use}]} listing every
state-dict key of the checkpoint it expects, in checkpoint order. `use` is "initializer"
(a float32 initializer of that name whose data was removed: fill it), "constant" (an
integer initializer the graph keeps, fixed by the architecture) or "unused" (no output
reads it). Keys that are not "initializer" are only checked for presence and shape.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
from pathlib import Path
from typing import Dict, Optional

import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from facexformer import (  # noqa: E402
    OUTPUT_NAMES,
    PRESETS,
    FaceXFormer,
    load_official_state_dict,
    parameter_count,
    randomize_weights,
)

OPSET = 17
METADATA_KEY = "facexstream"
TEMPLATE_KEY = "facexstream.template"
CONTRACT = Path(__file__).resolve().parent.parent / "src" / "model" / "contract.ts"
TASKS = ["parsing", "landmarks", "headPose", "attributes", "age", "gender", "race", "visibility"]
CHECKPOINT_URL = "https://huggingface.co/kartiknarayan/facexformer (ckpts/model.pt)"

LABEL_NOTES = (
    "Label orders. Parsing: LaPa's 11 classes in the dataset's index order (background, "
    "skin, left/right eyebrow, left/right eye, nose, upper lip, inner mouth, lower lip, "
    "hair); upstream inference.py colours 11 classes, index 0 black as background. "
    "Attributes: the 40 CelebA columns in list_attr_celeba.txt order. Landmarks: 68 points "
    "(300W layout), denormalized ((p + 1) * 224 - 1) / 2 by upstream inference.py. "
    "Visibility: 29 COFW points. Gender: 0 male, 1 female as in UTKFace file names. "
    "Race: the upstream code names no classes; UTKFace documents 0 White, 1 Black, 2 Asian, "
    "3 Indian, 4 Others, which differs from this contract's order at indices 2 and 3; "
    "unverified against the trained head. Age: 8 logits, upstream only prints the argmax "
    "index; the decade bins are this project's reading, not confirmed upstream."
)


def main(argv: Optional[list] = None) -> int:
    args = _parse_args(argv)
    model = _build_model(args)
    metadata = _metadata(args, model)

    started = time.perf_counter()
    proto = export_model(model)
    exported_s = time.perf_counter() - started
    if args.template:
        make_template(proto, model.state_dict())
    set_metadata(proto, METADATA_KEY, metadata)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    summary = {
        "out": str(out),
        "bytes": out.stat().st_size,
        "nodes": len(proto.graph.node),
        "initializers": len(proto.graph.initializer),
        "parameters": metadata["parameters"],
        "export_s": round(exported_s, 2),
        "template": bool(args.template),
    }
    print(json.dumps(summary))
    return 0


def _parse_args(argv: Optional[list]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", help="official-format .pt ({'state_dict_backbone': ...})")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="swin-b")
    parser.add_argument("--seed", type=int, default=0, help="seed of random weights")
    parser.add_argument("--template", action="store_true", help="write a weight-free template")
    parser.add_argument("--metadata", help="JSON file merged over the default metadata")
    parser.add_argument("--name", help="model name in the metadata")
    parser.add_argument("--out", required=True, help="output .onnx path")
    return parser.parse_args(argv)


def _build_model(args: argparse.Namespace) -> FaceXFormer:
    model = FaceXFormer(PRESETS[args.preset]())
    if args.checkpoint:
        model.load_state_dict(load_official_state_dict(args.checkpoint), strict=True)
    else:
        randomize_weights(model, args.seed)
    return model.eval()


def export_model(model: FaceXFormer) -> onnx.ModelProto:
    """Trace the model (export mode) to an opset-17 ModelProto, initializers named by key."""
    model.eval().prepare_for_export()
    side = model.cfg.input_size
    example = torch.zeros(1, 3, side, side)
    axes = {name: {0: "batch"} for name in ("image",) + OUTPUT_NAMES}
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            buffer,
            opset_version=OPSET,
            input_names=["image"],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=axes,
            do_constant_folding=False,
            training=torch.onnx.TrainingMode.EVAL,
        )
    return onnx.load_from_string(buffer.getvalue())


def make_template(proto: onnx.ModelProto, state: Dict[str, torch.Tensor]) -> None:
    """Drop the data of every initializer named by a state-dict key; record the keys."""
    uses = {}
    for init in proto.graph.initializer:
        if init.name not in state:
            continue
        if list(init.dims) != list(state[init.name].shape):
            raise SystemExit(f"initializer {init.name} has dims {list(init.dims)}")
        # Integer buffers (Swin's relative_position_index) are fixed by the architecture:
        # they stay in the graph and the checkpoint's copy is only checked.
        if init.data_type != onnx.TensorProto.FLOAT:
            uses[init.name] = "constant"
            continue
        init.ClearField("raw_data")
        init.ClearField("float_data")
        uses[init.name] = "initializer"

    keys = []
    for key, tensor in state.items():
        keys.append({"key": key, "shape": list(tensor.shape), "use": uses.get(key, "unused")})
    set_metadata(proto, TEMPLATE_KEY, {"schema": 1, "keys": keys})


def set_metadata(proto: onnx.ModelProto, key: str, value: dict) -> None:
    """Set one metadata_props entry to compact JSON, replacing any earlier one."""
    kept = [p for p in proto.metadata_props if p.key != key]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    entry = proto.metadata_props.add()
    entry.key = key
    entry.value = json.dumps(value, separators=(",", ":"))


def contract_labels() -> Dict[str, list]:
    """Label lists read from src/model/contract.ts, the one place they are written."""
    text = CONTRACT.read_text()
    names = {
        "attributes": "ATTRIBUTE_LABELS",
        "age": "AGE_LABELS",
        "gender": "GENDER_LABELS",
        "race": "RACE_LABELS",
        "parsing": "PARSING_LABELS",
    }
    labels = {}
    for task, const in names.items():
        match = re.search(rf"export const {const} = \[(.*?)\] as const;", text, re.S)
        if not match:
            raise SystemExit(f"{CONTRACT}: cannot find {const}")
        labels[task] = re.findall(r"'([^']*)'", match.group(1))
    return labels


def _metadata(args: argparse.Namespace, model: FaceXFormer) -> dict:
    published = args.preset == "swin-b" and (args.checkpoint or args.template)
    name = args.name or ("facexformer-swin-b" if published else f"facexformer-{args.preset}")
    if published:
        provenance = {"source": CHECKPOINT_URL, "license": "MIT", "notes": LABEL_NOTES}
    else:
        how = f"tools/export_onnx.py --preset {args.preset} --seed {args.seed}"
        provenance = {"source": f"random weights ({how})", "license": "MIT"}
    metadata = build_metadata(name, model, provenance)
    if args.metadata:
        metadata.update(json.loads(Path(args.metadata).read_text()))
    return metadata


def build_metadata(name: str, model: FaceXFormer, provenance: dict) -> dict:
    """The `facexstream` entry (ModelMetadata in src/model/contract.ts) for all 8 tasks."""
    return {
        "schema": 1,
        "name": name,
        "tasks": list(TASKS),
        "labels": contract_labels(),
        "inputSize": model.cfg.input_size,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "cropMargin": 0.5,
        "parameters": parameter_count(model),
        "provenance": provenance,
    }


if __name__ == "__main__":
    sys.exit(main())
