#!/usr/bin/env bash
# GPU benchmark of the FaceXFormer runtime on a Linux x64 NVIDIA host, in one go:
#   1. installs onnxruntime-node's CUDA/TensorRT providers (npm run gpu:install),
#   2. exports the published Swin-B architecture with random weights (tools/export_onnx.py),
#   3. converts it to float16 with float32 input/outputs (bench/fp16.ts),
#   4. prints faces/s for fp32 and fp16 at batch 1, 8, 32 on CUDA and on TensorRT when its
#      libraries are present, and the largest output difference from float32 on CPU.
#
# Needs: an NVIDIA driver, CUDA 12 runtime + cuBLAS, cuDNN 9 (TensorRT 10 for tensorrt) on
# the library path or pip-installed (nvidia-*-cu12 wheels are found and added), Node 20,
# Python 3 with torch and torchvision for the export, network access to NuGet for step 1
# (or providers already installed). Written from the ONNX Runtime and onnxruntime-node docs;
# it has not been run on a GPU yet.
#
# Usage: bench/gpu.sh [output-dir]     (default /tmp/facexstream-gpu)
# Env:   PYTHON (default: /usr/bin/python3 if it has torch, else python3), BATCHES (1,8,32),
#        SECONDS_PER_RUN (5), DEVICES (cuda,tensorrt; tensorrt dropped if libnvinfer is absent)
set -euo pipefail

cd "$(dirname "$0")/.."
out=${1:-/tmp/facexstream-gpu}
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "GPU"
if ! nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; then
  echo "no NVIDIA GPU visible (nvidia-smi failed); this benchmark needs one" >&2
  exit 1
fi

step "Node packages"
[ -d node_modules ] || npm ci

step "CUDA libraries"
# pip wheels (nvidia-cudnn-cu12, nvidia-cublas-cu12, tensorrt-cu12-libs, ...) keep their .so
# files under site-packages/nvidia/*/lib and tensorrt_libs; make them visible to ORT.
for py in python3 /usr/bin/python3; do
  command -v "$py" >/dev/null || continue
  for dir in $("$py" - <<'EOF' 2>/dev/null || true
import glob, site, os
roots = site.getsitepackages() + [site.getusersitepackages()]
for r in roots:
    for d in glob.glob(os.path.join(r, 'nvidia', '*', 'lib')) + glob.glob(os.path.join(r, 'tensorrt_libs')):
        print(d)
EOF
  ); do
    LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
  done
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"

has_lib() {
  ldconfig -p 2>/dev/null | grep -q "$1" && return 0
  local IFS=:
  for d in $LD_LIBRARY_PATH; do [ -e "$d/$1" ] && return 0; done
  return 1
}
for lib in libcudart.so.12 libcublas.so.12 libcublasLt.so.12 libcudnn.so.9 libcufft.so.11; do
  if has_lib "$lib"; then echo "found $lib"; else echo "MISSING $lib: CUDA will fall back to CPU" >&2; fi
done

devices=${DEVICES:-cuda,tensorrt}
if [[ $devices == *tensorrt* ]] && ! has_lib libnvinfer.so.10; then
  echo "libnvinfer.so.10 (TensorRT 10) not found: skipping tensorrt"
  devices=${devices//tensorrt/}
  devices=$(echo "$devices" | sed 's/,,*/,/g; s/^,//; s/,$//')
fi

step "ONNX Runtime GPU providers"
providers=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
if [ -f "$providers/libonnxruntime_providers_cuda.so" ]; then
  echo "already installed in $providers"
else
  # The project .npmrc skips this download; the variable overrides it (see device.ts).
  npm run gpu:install
  if [ ! -f "$providers/libonnxruntime_providers_cuda.so" ]; then
    echo "npm run gpu:install did not install $providers/libonnxruntime_providers_cuda.so;" \
      "it downloads Microsoft.ML.OnnxRuntime.Gpu.Linux from api.nuget.org (check network/proxy)" >&2
    exit 1
  fi
fi
ls -la "$providers"

step "Export Swin-B with random weights"
if [ -z "${PYTHON:-}" ]; then
  if /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
if [ ! -f "$out/swin-b.onnx" ]; then
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} "$PYTHON" tools/export_onnx.py --preset swin-b --out "$out/swin-b.onnx"
fi
node --import tsx bench/fp16.ts "$out/swin-b.onnx" "$out/swin-b-fp16.onnx"

step "Benchmark (devices: $devices)"
node --import tsx bench/gpu.ts \
  --model "$out/swin-b.onnx" --model "$out/swin-b-fp16.onnx" \
  --devices "$devices" --batches "${BATCHES:-1,8,32}" --seconds "${SECONDS_PER_RUN:-5}" \
  | tee "$out/results.txt"
echo "results in $out/results.txt"
