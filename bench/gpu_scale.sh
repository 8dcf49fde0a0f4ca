#!/usr/bin/env bash
# The 100k-row classify job on a GPU machine: in-process and on a local Ray (one actor per GPU).
# Prepared for issue 10; NOT RUN yet (no GPU was available when bench/scale.py was measured).
# Needs the CUDA build of torch instead of the CPU one, and a completed run, e.g. from
#   python bench/scale.py ddp     (trains sst2 500 rows; its run id is in bench/out/scale.jsonl)
# Usage: bash bench/gpu_scale.sh RUN_ID RUNS_DIR [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=$1 RUNS=$2 ROWS=${3:-100000}
PY=${PYTHON:-.venv/bin/python}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA in this torch build'"
"$PY" -c "from bench.scale import texts_file; print(texts_file($ROWS))"
IN=bench/out/scale/texts-$ROWS.csv
for ENGINE in local ray; do
  OUT=bench/out/scale/gpu-$ROWS-$ENGINE.csv
  rm -f "$OUT"
  /usr/bin/time -v "$PY" -m core classify "$RUN" --runs-dir "$RUNS" --file "$IN" --out "$OUT" \
    --engine "$ENGINE" --chunk-rows 4096 --json 2> "bench/out/scale/gpu-$ROWS-$ENGINE.err" \
    | tee "bench/out/scale/gpu-$ROWS-$ENGINE.json"
  grep "Maximum resident" "bench/out/scale/gpu-$ROWS-$ENGINE.err"
done
