#!/usr/bin/env bash
# The main job on a fresh machine: install, train the default config on data/newswire,
# evaluate it on the dev split, and print who said what in the example article.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
newstag train --config configs/default.yaml --output models/newswire
newstag evaluate --model models/newswire --data data/newswire/dev.jsonl --report models/newswire/dev-report
newstag predict --model models/newswire examples/article.txt --format pretty
