#!/usr/bin/env bash
# Create .venv (if needed) and install the pinned requirements and svmr itself into it (editable,
# as a path entry: `python -m svmr` then finds this checkout even beside a folder named svmr).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
echo "installing the pinned requirements into .venv (a minute or two the first time)..."
pip install -q --disable-pip-version-check -r requirements.txt 2> >(grep -v "^WARNING: Location" >&2)
pip install -q --disable-pip-version-check --no-deps --config-settings editable_mode=compat -e . 2> >(grep -v "^WARNING: Location" >&2)
