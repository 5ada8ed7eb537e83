"""Export a facexstream-small checkpoint to ONNX with the facexstream metadata.

    /usr/bin/python3 tools/export_small.py /work/train/run/last.pt models/facexstream-small.onnx

Opset 17, dynamic batch, input `image` [N,3,224,224], the eight outputs of the model
contract in its order. The label lists are read from src/model/contract.ts, so the
metadata cannot drift from the runtime's copy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from facexformer import OUTPUT_NAMES, parameter_count  # noqa: E402
from small_model import build_small, set_input_size  # noqa: E402

CONTRACT = os.path.join(HERE, "..", "src", "model", "contract.ts")
TASKS = ["landmarks", "headPose", "age", "gender", "race", "parsing"]
SOURCE = "trained by facexstream tools/train_small.py on UTKFace with dlib teacher labels"
LICENSE = "non-commercial research only (inherits UTKFace and iBUG 300-W terms)"
NOTES = (
    "Small ResNet-style backbone under the FaceXFormer fusion, decoder and heads. "
    "Teachers: UTKFace file-name labels (age, gender, race), dlib 68-point shape predictor "
    "(landmarks), solvePnP on a generic 6-point head (pose: yaw > 0 faces image right, "
    "pitch > 0 looks up, roll > 0 clockwise on screen, as upstream's drawing code), "
    "landmark-drawn LaPa masks ('left' = image left; hair is never predicted). "
    "Attributes and visibility heads are untrained. See docs/model-card.md."
)


def contract_labels(name: str) -> list:
    """The string array `export const NAME = [...]` of src/model/contract.ts."""
    text = open(CONTRACT).read()
    match = re.search(rf"export const {name}\s*=\s*\[(.*?)\]\s*as const", text, re.S)
    if match is None:
        raise SystemExit(f"cannot find {name} in {CONTRACT}")
    return re.findall(r"'([^']*)'", match.group(1))


def metadata(parameters: int) -> dict:
    return {
        "schema": 1,
        "name": "facexstream-small",
        "tasks": TASKS,
        "labels": {
            "attributes": contract_labels("ATTRIBUTE_LABELS"),
            "age": contract_labels("AGE_LABELS"),
            "gender": contract_labels("GENDER_LABELS"),
            "race": contract_labels("RACE_LABELS"),
            "parsing": contract_labels("PARSING_LABELS"),
        },
        "inputSize": 224,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "cropMargin": 0.5,
        "parameters": parameters,
        "provenance": {"source": SOURCE, "license": LICENSE, "notes": NOTES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("output")
    args = parser.parse_args()

    model = build_small()
    state = torch.load(args.checkpoint, map_location="cpu")
    model.load_state_dict(state["model"])
    set_input_size(model, 224)
    model.eval()

    image = torch.randn(2, 3, 224, 224)
    torch.onnx.export(
        model, image, args.output, opset_version=17, input_names=["image"],
        output_names=list(OUTPUT_NAMES),
        dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in OUTPUT_NAMES}},
        do_constant_folding=True,
    )
    proto = onnx.load(args.output)
    meta = metadata(parameter_count(model))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = "facexstream", json.dumps(meta)
    proto.producer_name = "facexstream tools/export_small.py"
    onnx.checker.check_model(proto)
    onnx.save(proto, args.output)
    size_mb = os.path.getsize(args.output) / 1e6
    print(f"{args.output}: {size_mb:.1f} MB, {meta['parameters']:,} parameters, "
          f"epoch {state.get('epoch')}, {len(proto.graph.node)} nodes")


if __name__ == "__main__":
    main()
