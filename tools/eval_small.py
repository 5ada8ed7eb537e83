"""Held-out accuracy of facexstream-small against UTKFace labels and the dlib teachers.

    /usr/bin/python3 tools/eval_small.py CHECKPOINT.pt [--labels labels.npz] [--json out.json]

Metrics on the validation split written by tools/teacher/make_labels.py (never trained on):
age-bin, gender and race accuracy; landmark NME against dlib normalized by the
inter-ocular distance (outer eye corners, points 36 and 45); head-pose MAE in degrees
against the PnP teacher; parsing pixel accuracy and mean IoU against the drawn masks
(ignore pixels excluded, hair and background classes left out of the mean).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from small_data import IGNORE, MASK, make_sample  # noqa: E402


def load_images(paths) -> list:
    import cv2

    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]


def fallback_box(labels: dict) -> np.ndarray:
    """Mean detector-like box of the images with landmarks, for those without."""
    from small_data import detector_box

    boxes = [detector_box(p) for p, ok in zip(labels["landmarks"], labels["ok"]) if ok]
    return np.mean(boxes, axis=0).astype(np.float32)


@torch.no_grad()
def evaluate(model, labels: dict, images: list, indices, batch: int = 32, size: int = 224) -> dict:
    """Metrics of `model` on the images at `indices` (deterministic runtime-like crops).

    `size` below 224 evaluates the cheap low-resolution training phase; the grid is put
    back to 224 afterwards only if the caller does so (see set_input_size).
    """
    from small_model import set_input_size

    set_input_size(model, size)
    model.eval()
    rng = np.random.default_rng(0)
    box = fallback_box(labels)
    hits = {"age": 0, "gender": 0, "race": 0}
    nme, pose_err, count = [], [], 0
    inter = np.zeros(11)
    union = np.zeros(11)
    correct_pixels = total_pixels = 0
    for start in range(0, len(indices), batch):
        chunk = indices[start : start + batch]
        samples = []
        for i in chunk:
            points = labels["landmarks"][i] if labels["ok"][i] else None
            pose = labels["pose"][i] if labels["pose_ok"][i] else None
            samples.append(make_sample(images[i], points, pose, box, rng, False, size, MASK))
        x = torch.from_numpy(np.stack([s[0] for s in samples]))
        lm, hp, _, _, age, gender, race, parsing = model(x)
        for name, logits in (("age", age), ("gender", gender), ("race", race)):
            truth = labels["age_bin" if name == "age" else name][chunk]
            hits[name] += int((logits.argmax(1).numpy() == truth).sum())
        count += len(chunk)
        lm = lm.view(-1, 68, 2).numpy()
        masks = torch.nn.functional.avg_pool2d(parsing, size // MASK).argmax(1).numpy()
        for k, s in enumerate(samples):
            if s[1] is not None:
                ocular = np.linalg.norm(s[1][36] - s[1][45])
                nme.append(np.linalg.norm(lm[k] - s[1], axis=1).mean() / max(ocular, 1e-6))
                valid = s[3] != IGNORE
                pred, truth = masks[k][valid], s[3][valid]
                correct_pixels += int((pred == truth).sum())
                total_pixels += int(valid.sum())
                for c in range(11):
                    inter[c] += np.sum((pred == c) & (truth == c))
                    union[c] += np.sum((pred == c) | (truth == c))
            if s[2] is not None:
                pose_err.append(np.abs(hp[k].numpy() - s[2]))
    iou = inter[1:10] / np.maximum(union[1:10], 1)
    pose_deg = np.degrees(np.mean(pose_err, axis=0)) if pose_err else np.zeros(3)
    return {
        "size": size,
        "images": count,
        "age_acc": hits["age"] / count,
        "gender_acc": hits["gender"] / count,
        "race_acc": hits["race"] / count,
        "landmark_nme": float(np.mean(nme)) if nme else None,
        "pose_mae_deg": [round(float(v), 2) for v in pose_deg],
        "pose_mae_deg_mean": round(float(pose_deg.mean()), 2),
        "parsing_pixel_acc": correct_pixels / max(total_pixels, 1),
        "parsing_miou_face_classes": float(iou.mean()),
    }


def load_labels(path: str) -> dict:
    data = np.load(path)
    return {k: data[k] for k in data.files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--labels", default="/work/train/labels.npz")
    parser.add_argument("--json")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from small_model import build_small

    labels = load_labels(args.labels)
    val = np.flatnonzero(labels["val"])
    images = [None] * len(labels["path"])
    for i, image in zip(val, load_images(labels["path"][val])):
        images[i] = image
    model = build_small()
    model.load_state_dict(torch.load(args.checkpoint, map_location="cpu")["model"])
    metrics = evaluate(model, labels, images, val)
    print(json.dumps(metrics, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(metrics, f, indent=2)


if __name__ == "__main__":
    main()
