# Sourced by the device_*.sh scripts: what every lent GPU machine needs before a run.
# Installs the wheels the GPU image lacks from .bench/whl (skipped with NO_WHEELS=1, for a
# smoke run where the packages are installed), puts seqeval's source and newstag on the
# path, and writes the offline MiniLM back to fp32 (it travels fp16 to fit the transfer).
if [ -z "${NO_WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .bench/whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD/.bench/pylib:$PWD/src PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
python3 - <<'PY'
from safetensors.torch import load_file, save_file
w = load_file(".bench/minilm/model.fp16.safetensors")
save_file({k: v.float() for k, v in w.items()}, ".bench/minilm/model.safetensors")
PY
# Library chatter and progress bars, dropped from the logs that come back.
quiet() { grep -v -E "Warning|warn\(|LOAD REPORT|UNEXPECTED|MISSING|^Key|^---|^Notes|^- |^$|it/s\]"; }
