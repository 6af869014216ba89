#!/usr/bin/env bash
# Train every stage-1 and stage-2 variant and baseline of the evaluation tables into data/variants/
# (the paper's own models too, with the bundled recipes: stage 2 with its TEM trained jointly), then
# regenerate the tables into data/tables.md. Each job's time is in its JSON (train_seconds); the
# README's run used one thread per job (OMP_NUM_THREADS=1), two jobs at a time.
# Needs the procedural benchmark with features (python -m svmr build-benchmark --out data/benchmark --features)
# and the real-footage set (python -m svmr build-footage-set --out data/footage-set).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
KEY=${KEY:-47c2d8e489836228}   # the current default features (crop_borders); a70b80f062470fc5 before
OUT=data/variants
mkdir -p "$OUT"
train() { "$PY" -m svmr train "$@" --benchmark data/benchmark --features-key "$KEY" --out "$OUT"; }
for v in ctc_ae ctc_no_ae conv1d_ae ctc_ae_shared; do          # Table 1, the bundled model's recipe
  train stage1 --variant "$v" --steps 1000 --batch-size 32 --eval-every 100 --init pca --freeze-projection
done
for v in triplet arcface; do                             # Table 3, one-branch baselines
  train stage1 --variant "$v" --steps 300 --batch-size 32 --eval-every 100
done
train stage2 --variant attn_prod --steps 500 --batch-size 8 --eval-every 125   # the paper's ATLN, its recipe
for v in none prod attn attn_concat tan2d video_reloc; do     # Tables 5, 6 and 8
  train stage2 --variant "$v" --steps 300 --batch-size 8 --eval-every 150
done
"$PY" -m svmr evaluate --benchmark data/benchmark --features-key "$KEY" --checkpoints "$OUT" \
  --footage data/footage-set --out data/tables.md
