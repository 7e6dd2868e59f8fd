#!/usr/bin/env bash
# The GPU path, checked on a CUDA machine (CI has none): the CUDA-marked tests, then a
# short CIFAR-10 `tinyssl fit` smoke run (AMP and channels-last are the CUDA defaults) whose
# images/s per stage are printed and written to results/gpu_check.json.
#   bash scripts/gpu_check.sh [DATA]     # DATA default: folder:../shared/data/cifar10-jpeg.tgz
# PY=python3 uses an interpreter that already has the dependencies (a GPU image with the
# packages carried as wheels) instead of building .venv with `make setup`.
# FIT_TIMEOUT (seconds, default none) stops the fit with SIGINT, which checkpoints first, so
# a leased machine's time limit never loses the run: `tinyssl fit --resume` continues it.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-folder:../shared/data/cifar10-jpeg.tgz}"
if [ -z "${PY:-}" ]; then make setup || exit 1; PY=.venv/bin/python; fi
$PY -c "import torch, sys; ok = torch.cuda.is_available(); print('torch', torch.__version__, 'CUDA:', torch.cuda.get_device_name(0) if ok else 'none'); sys.exit(0 if ok else 'no CUDA GPU is visible: run this on the GPU machine.')" || exit 1
status=0
$PY -m pytest -q -p no:cacheprovider -m cuda tests || status=1
rm -rf runs/gpu-check
# A few minutes on an H200 (cnv-w2a2 student, its float twin as teacher), no FINN stage:
# the point is the CUDA training path and its speed, not accuracy.
timeout -s INT "${FIT_TIMEOUT:-0}" $PY -m tinyssl.cli fit --data "$DATA" --labels 4000 \
  --model cnv-w2a2 --steps "${FIT_STEPS:-400}" --batch-size 64 --device cuda --no-hardware \
  --no-progress -o flip=true --runs runs/gpu-check || status=1
$PY scripts/gpu_report.py runs/gpu-check results/gpu_check.json || status=1
exit $status
# The headline GPU run: CIFAR-10, 4,000 labels, FINN's CNV at 2 bits as the student, its
# float twin (cnv-float) as the FixMatch teacher, then float init + distillation.
#   tinyssl fit --config configs/fit-cifar10-gpu.yaml --device cuda
# In chunks of under 10 minutes (Ctrl-C, i.e. SIGINT, saves a checkpoint first):
#   timeout -s INT 9m tinyssl fit --config configs/fit-cifar10-gpu.yaml     # → runs/fit-…
#   timeout -s INT 9m tinyssl fit --resume runs/fit-cifar10-jpeg-cnv-w2a2-s0-…   # repeat
