#!/usr/bin/env bash
# Train every stage-1 and stage-2 variant and baseline of the evaluation tables into data/variants/
# (beside copies of the bundled checkpoints), then regenerate the tables into data/tables.md.
# Needs the procedural benchmark with features (python -m svmr build-benchmark --out data/benchmark --features)
# and the real-footage set (python -m svmr build-footage-set --out data/footage-set).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
KEY=${KEY:-47c2d8e489836228}   # the current default features (crop_borders); a70b80f062470fc5 before
OUT=data/variants
mkdir -p "$OUT"
train() { "$PY" -m svmr train "$@" --benchmark data/benchmark --features-key "$KEY" --out "$OUT"; }
for v in ctc_no_ae conv1d_ae ctc_ae_shared; do          # Table 1, the bundled model's recipe
  train stage1 --variant "$v" --steps 1000 --batch-size 32 --eval-every 100 --init pca --freeze-projection
done
for v in triplet arcface; do                             # Table 3, one-branch baselines
  train stage1 --variant "$v" --steps 300 --batch-size 32 --eval-every 100
done
for v in prod attn attn_concat tan2d video_reloc; do     # Tables 5 and 8
  train stage2 --variant "$v" --steps 300 --batch-size 8 --eval-every 150
done
cp checkpoints/stage1_ctc_ae.* checkpoints/stage2_attn_prod.* checkpoints/stage2_none.* "$OUT"/
"$PY" -m svmr evaluate --benchmark data/benchmark --features-key "$KEY" --checkpoints "$OUT" \
  --footage data/footage-set --out data/tables.md
