#!/usr/bin/env bash
# The accuracy and speed benchmarks on one CUDA GPU, sized to finish in about 10 minutes.
#
#   bash bench/gpu.sh            # from the repository root, with ../shared/data beside it
#
# Uses .venv-gpu (made here when missing: the default PyPI torch wheel, which carries CUDA, then
# the app's and the benchmark's requirements). A machine without the network can bring a
# prepared environment instead: set PYTHON to its interpreter. Results: bench/out/gpu-*.jsonl,
# bench/out/gpu.log, and a "Speed on cuda" section in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if [ -z "${PYTHON:-}" ]; then
    if [ ! -x .venv-gpu/bin/python ]; then
        python3 -m venv .venv-gpu
        .venv-gpu/bin/pip install --quiet --upgrade pip
        .venv-gpu/bin/pip install --quiet torch==2.13.0
        .venv-gpu/bin/pip install --quiet -r requirements.txt -r requirements-bench.txt \
            playwright httpx
        .venv-gpu/bin/pip install --quiet --no-deps -r requirements-large.txt
    fi
    PYTHON=.venv-gpu/bin/python
fi
"$PYTHON" - <<'EOF'
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
EOF
mkdir -p bench/out
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
    # Accuracy: the five data sets, seed 0, the three methods side by side (~1 min per set).
    "$PYTHON" bench/accuracy.py --device cuda --seeds 0 --methods frozen,setfit,embedtune \
        --datasets sst2,amazon,imdb,yelp,emotion --out bench/out/gpu-accuracy.jsonl
    "$PYTHON" bench/accuracy.py --summary --out bench/out/gpu-accuracy.jsonl
    # Speed: embed overhead, classify latency, finetune throughput (small and large), UMAP.
    "$PYTHON" bench/speed.py --device cuda --skip-app --train-rows 1000 \
        --json bench/out/gpu-speed.json
} 2>&1 | tee bench/out/gpu.log
