"""PyTorch eager timing of FaceXFormer on CPU, for comparison with ONNX Runtime (bench/).

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/bench_pytorch.py \\
        [--preset swin-b|tiny] [--checkpoint model.pt] [--batches 1,4] [--runs 5] [--threads 2]

Prints one JSON object: for each batch size the median, min and max milliseconds per
forward pass (not per face), after one warm-up pass. Random weights unless a checkpoint
in the published layout is given. OMP_WAIT_POLICY=PASSIVE is set here when unset, since
spinning OpenMP threads distort timings on a shared machine; it only takes effect when
set before torch loads, which this script ensures by setting it before the import.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from facexformer import (  # noqa: E402
    PRESETS,
    FaceXFormer,
    load_official_state_dict,
    parameter_count,
    randomize_weights,
)


def main() -> int:
    parser = argparse.ArgumentParser(description="PyTorch eager FaceXFormer timing")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="swin-b")
    parser.add_argument("--checkpoint", help="official-format .pt; default random weights")
    parser.add_argument("--batches", default="1,4", help="comma-separated batch sizes")
    parser.add_argument("--runs", type=int, default=5, help="timed passes per batch size")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = FaceXFormer(PRESETS[args.preset]())
    if args.checkpoint:
        model.load_state_dict(load_official_state_dict(args.checkpoint), strict=True)
    else:
        randomize_weights(model, 0)
    model.eval()

    results = {}
    for batch in (int(b) for b in args.batches.split(",")):
        results[str(batch)] = _time(model, batch, args.runs)

    report = {
        "runtime": "pytorch-eager",
        "torch": torch.__version__,
        "preset": args.preset,
        "parameters": parameter_count(model),
        "threads": args.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "ms_per_batch": results,
    }
    print(json.dumps(report))
    return 0


def _time(model: FaceXFormer, batch: int, runs: int) -> dict:
    image = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(batch))
    samples = []
    with torch.inference_mode():
        model(image)  # warm-up: allocations and kernel selection
        for _ in range(runs):
            started = time.perf_counter()
            model(image)
            samples.append((time.perf_counter() - started) * 1000)
    return {
        "median": round(statistics.median(samples), 1),
        "min": round(min(samples), 1),
        "max": round(max(samples), 1),
        "runs": runs,
    }


if __name__ == "__main__":
    sys.exit(main())
