#!/usr/bin/env bash
# Reproduces models/facexstream-small.onnx from scratch: teacher labels, training, export,
# held-out evaluation. Needs Debian's g++, libdlib-dev, libdlib-data, python3-torch,
# python3-opencv, python3-onnx and libopenblas0-pthread (PyTorch on the reference BLAS is
# far slower). Work files go to $WORK, never into the repository.
#
#   tools/train_small.sh                  # defaults below
#   WORK=/tmp/fxs MINUTES=20 ROUND2_MINUTES=10 tools/train_small.sh
#
# Two rounds: the first trains from scratch, mostly at 112x112 input (a step costs about a
# fifth), then at 224; the second continues at 224 alone with a fresh, lower cosine, since
# the first round's short 224 phase leaves the model short of its 112 accuracy.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-/work/train}"
DATA="${DATA:-/work/shared/data/utkface}"
MINUTES="${MINUTES:-55}"
ROUND2_MINUTES="${ROUND2_MINUTES:-30}"
PREDICTOR="${PREDICTOR:-/usr/share/dlib/shape_predictor_68_face_landmarks.dat}"
PY=/usr/bin/python3
export OMP_WAIT_POLICY=PASSIVE

mkdir -p "$WORK/run"

echo "== teacher: dlib 68-point landmarks"
# pkg-config's dlib-1 names libblas.so/liblapack.so, which Debian only ships as .so.3.
g++ -O2 -std=c++14 -o "$WORK/dlib_landmarks" "$REPO/tools/teacher/dlib_landmarks.cpp" \
  -ldlib -lpthread -ljpeg -lpng -lz \
  /usr/lib/x86_64-linux-gnu/libblas.so.3 /usr/lib/x86_64-linux-gnu/liblapack.so.3
ls "$DATA"/*.jpg > "$WORK/list_all.txt"
"$WORK/dlib_landmarks" "$PREDICTOR" < "$WORK/list_all.txt" > "$WORK/utk_dlib.tsv"

echo "== labels: demographics, head pose, split"
$PY "$REPO/tools/teacher/make_labels.py" "$WORK/utk_dlib.tsv" "$WORK/labels.npz"

echo "== training, round 1 ($MINUTES minutes)"
$PY "$REPO/tools/train_small.py" --labels "$WORK/labels.npz" --out "$WORK/run" \
  --minutes "$MINUTES" --low-fraction 0.7 | tee "$WORK/run/train.log"

echo "== training, round 2 ($ROUND2_MINUTES minutes at 224)"
mkdir -p "$WORK/run2"
$PY "$REPO/tools/train_small.py" --labels "$WORK/labels.npz" --out "$WORK/run2" \
  --minutes "$ROUND2_MINUTES" --low-fraction 0 --lr 6e-4 --seed 1 \
  --init "$WORK/run/last.pt" | tee "$WORK/run2/train.log"

echo "== export and evaluation"
$PY "$REPO/tools/export_small.py" "$WORK/run2/last.pt" "$REPO/models/facexstream-small.onnx"
$PY "$REPO/tools/eval_small.py" "$WORK/run2/last.pt" --labels "$WORK/labels.npz" \
  --json "$WORK/run2/eval.json"
(cd "$REPO" && node --import tsx bench/accuracy.ts --list "$WORK/labels-val.txt" \
  --teacher "$WORK/utk_dlib.tsv" --model models/facexstream-small.onnx)
