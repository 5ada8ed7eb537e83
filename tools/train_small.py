"""Train facexstream-small on UTKFace with the dlib teacher labels.

    /usr/bin/python3 tools/train_small.py --labels /work/train/labels.npz \
        --out /work/train/run --minutes 50

Training runs in two phases: the first share of the budget at 112x112 input (the network
is fully convolutional up to a decoder whose positional encoding is defined on normalised
positions, so the same weights run at any multiple of 32; a step costs about a fifth),
the rest at the runtime's 224x224.

The run is budgeted in wall-clock minutes, not epochs: the learning rate follows a cosine
over the budget (after a short warm-up) and training stops when the budget is spent, so the
number of epochs depends on the machine's speed. A checkpoint (`last.pt`, plus
`epoch-NN.pt`) is written after every epoch, each one exportable with tools/export_small.py;
`log.jsonl` holds the held-out metrics of every epoch.

Losses: landmarks L1 (coordinates in [-1, 1] over the crop), head pose L1 (radians),
cross-entropy for age bin, gender and race (label smoothing 0.1), cross-entropy with an
ignore label for parsing at 56x56. Attributes and visibility have no labels: their heads
stay untrained and the exported metadata does not list those tasks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_small import evaluate, fallback_box, load_images, load_labels  # noqa: E402
from small_data import IGNORE, MASK, make_sample  # noqa: E402
from small_model import build_small, parameter_count, set_input_size  # noqa: E402

WEIGHTS = {"landmarks": 5.0, "pose": 2.0, "age": 1.0, "gender": 1.0, "race": 1.0, "parsing": 0.5}


def make_batch(labels, images, chunk, box, rng, size):
    samples = []
    for i in chunk:
        points = labels["landmarks"][i] if labels["ok"][i] else None
        pose = labels["pose"][i] if labels["pose_ok"][i] else None
        samples.append(make_sample(images[i], points, pose, box, rng, True, size, MASK))
    n = len(chunk)
    lm = np.zeros((n, 68, 2), np.float32)
    lm_w = np.zeros(n, np.float32)
    pose = np.zeros((n, 3), np.float32)
    pose_w = np.zeros(n, np.float32)
    for k, (_, points, angles, _) in enumerate(samples):
        if points is not None:
            lm[k], lm_w[k] = points, 1
        if angles is not None:
            pose[k], pose_w[k] = angles, 1
    return {
        "image": torch.from_numpy(np.stack([s[0] for s in samples])),
        "landmarks": torch.from_numpy(lm),
        "lm_w": torch.from_numpy(lm_w),
        "pose": torch.from_numpy(pose),
        "pose_w": torch.from_numpy(pose_w),
        "mask": torch.from_numpy(np.stack([s[3] for s in samples]).astype(np.int64)),
        "age": torch.from_numpy(labels["age_bin"][chunk]),
        "gender": torch.from_numpy(labels["gender"][chunk]),
        "race": torch.from_numpy(labels["race"][chunk]),
    }


def losses(outputs, batch) -> dict:
    lm, hp, _, _, age, gender, race, parsing = outputs
    lm_err = (lm.view(-1, 68, 2) - batch["landmarks"]).abs().mean((1, 2))
    pose_err = (hp - batch["pose"]).abs().mean(1)
    small = F.avg_pool2d(parsing, parsing.shape[-1] // MASK)
    return {
        "landmarks": (lm_err * batch["lm_w"]).sum() / batch["lm_w"].sum().clamp(min=1),
        "pose": (pose_err * batch["pose_w"]).sum() / batch["pose_w"].sum().clamp(min=1),
        "age": F.cross_entropy(age, batch["age"], label_smoothing=0.1),
        "gender": F.cross_entropy(gender, batch["gender"], label_smoothing=0.1),
        "race": F.cross_entropy(race, batch["race"], label_smoothing=0.1),
        "parsing": F.cross_entropy(small, batch["mask"], ignore_index=IGNORE)
        if bool((batch["mask"] != IGNORE).any())
        else small.sum() * 0,
    }


def learning_rate(base: float, progress: float, warmup: float = 0.03) -> float:
    if progress < warmup:
        return base * (0.1 + 0.9 * progress / warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", default="/work/train/labels.npz")
    parser.add_argument("--out", default="/work/train/run")
    parser.add_argument("--minutes", type=float, default=50.0, help="wall-clock budget")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--low-size", type=int, default=112, help="input side of phase one")
    parser.add_argument("--low-fraction", type=float, default=0.65,
                        help="share of the budget trained at --low-size before 224")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", help="start from this checkpoint's weights (a second round)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "log.jsonl"), "a")

    labels = load_labels(args.labels)
    images = load_images(labels["path"])
    box = fallback_box(labels)
    train_idx = np.flatnonzero(~labels["val"])
    val_idx = np.flatnonzero(labels["val"])

    model = build_small()
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location="cpu")["model"])
    print(f"{parameter_count(model):,} parameters; {len(train_idx)} train, {len(val_idx)} val",
          flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=args.lr,
    )

    budget = args.minutes * 60
    start = time.time()
    epoch, step = 0, 0
    size = 0
    done = False
    while not done:
        epoch += 1
        model.train()
        if size:
            set_input_size(model, size)
        order = rng.permutation(train_idx)
        sums, seen, tick = {}, 0, time.time()
        for first in range(0, len(order) - args.batch + 1, args.batch):
            progress = (time.time() - start) / budget
            if progress >= 1:
                done = True
                break
            for group in opt.param_groups:
                group["lr"] = learning_rate(args.lr, progress)
            new_size = args.low_size if progress < args.low_fraction else 224
            if new_size != size:
                size = new_size
                set_input_size(model, size)
                print(f"input size {size}", flush=True)
            batch = make_batch(labels, images, order[first : first + args.batch], box, rng, size)
            parts = losses(model(batch["image"]), batch)
            total = sum(WEIGHTS[k] * v for k, v in parts.items())
            opt.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            seen += len(batch["age"])
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(batch["age"])
            if step % 20 == 0:
                rate = seen / (time.time() - tick)
                means = " ".join(f"{k} {v / seen:.3f}" for k, v in sums.items())
                print(f"epoch {epoch} step {step} {rate:.1f} img/s lr {opt.param_groups[0]['lr']:.2e}"
                      f" | {means}", flush=True)
        if seen == 0:
            break
        metrics = evaluate(model, labels, images, val_idx, size=size if not done else 224)
        set_input_size(model, size)
        record = {
            "epoch": epoch, "step": step, "minutes": round((time.time() - start) / 60, 1),
            "train_loss": {k: round(v / seen, 4) for k, v in sums.items()}, "val": metrics,
        }
        print(json.dumps(record), flush=True)
        log.write(json.dumps(record) + "\n")
        log.flush()
        checkpoint = {"model": model.state_dict(), "epoch": epoch, "step": step,
                      "metrics": metrics, "args": vars(args)}
        torch.save(checkpoint, os.path.join(args.out, f"epoch-{epoch:02d}.pt"))
        # Write then rename, so an exporter reading last.pt never sees half a file.
        torch.save(checkpoint, os.path.join(args.out, "last.tmp"))
        os.replace(os.path.join(args.out, "last.tmp"), os.path.join(args.out, "last.pt"))


if __name__ == "__main__":
    main()
