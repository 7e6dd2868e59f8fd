#!/usr/bin/env bash
# The GPU path, checked on a CUDA machine (CI has none): the CUDA-marked tests, then a
# short CIFAR-10 `tinyssl fit` smoke run (AMP and channels-last are the CUDA defaults) whose
# images/s per stage are printed and written to results/gpu_check.json.
#   bash scripts/gpu_check.sh [DATA]     # DATA default: folder:../shared/data/cifar10-jpeg.tgz
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-folder:../shared/data/cifar10-jpeg.tgz}"
make setup
PY=.venv/bin/python
$PY -c "import torch, sys; ok = torch.cuda.is_available(); print('CUDA:', torch.cuda.get_device_name(0) if ok else 'none'); sys.exit(0 if ok else 'no CUDA GPU is visible: run this on the GPU machine.')"
$PY -m pytest -q -m cuda tests
rm -rf runs/gpu-check
# 2 minutes on an H100 (cnv-w2a2 student, its float twin as teacher), no FINN stage: the
# point is the CUDA training path, not accuracy.
.venv/bin/tinyssl fit --data "$DATA" --labels 4000 --model cnv-w2a2 --steps 400 \
  --batch-size 64 --device cuda --no-hardware --no-progress -o flip=true --runs runs/gpu-check
$PY scripts/gpu_report.py runs/gpu-check results/gpu_check.json
