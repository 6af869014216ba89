#!/usr/bin/env bash
# Install everything (with the sample footage, the similar-moments footage too) and run the test suite on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/fetch_footage.sh
bash scripts/fetch_semantic_footage.sh
bash scripts/install_browser.sh
exec .venv/bin/python -m pytest -q "$@"
