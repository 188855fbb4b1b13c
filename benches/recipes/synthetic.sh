#!/usr/bin/env bash
# The synthetic-data experiments of the training and evaluation issue, exactly as run for the numbers in
# benches/results/training.json (2 CPU cores, no GPU). Rerun all:   bash benches/recipes/synthetic.sh
# or one stage:   bash benches/recipes/synthetic.sh data|amma|amma-none|astar|eval|collect
# Each training run is from scratch (no pretrained weights) with seed 0; the test set is another seed (1).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
EXP=${EXP:-runs/synthetic}
STAGE=${1:-all}
mkdir -p "$EXP"

# Training data: 240 videos, seed 0 (200 train / 40 validation). Test data: 80 other videos, seed 1.
data() {
  $BIN/amma-edge data synth --out "$EXP/synth-train" --videos 240 --seed 0 --test-fraction 0.15
  $BIN/amma-edge data synth --out "$EXP/synth-test" --videos 80 --seed 1 --test-fraction 1.0 --preview
}

# AMMA-S, paper architecture (ShuffleNetV2 x1.0, K=3, t=4), input shrunk to 128x128 for the CPU budget;
# 4 epochs, Adam lr 1e-3 with 100 warm-up steps, x0.1 after epoch 3, batch 16.
AMMA_RECIPE=(--model amma-s --input-size 128 --device cpu --workers 1 --epochs 4 --lr 1e-3 --lr-steps 3
             --set warmup_steps=100 --set val_max_samples=400 --seed 0 --log-every 50)
amma()      { $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_RECIPE[@]}" --out "$EXP/amma-s-cd"; }
# The same budget without micro-motion (RGB stream only): the Table 1 ablation.
amma_none() { $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_RECIPE[@]}" --set micro_motion=none \
                --out "$EXP/amma-s-none"; }

# A*, X3D-M at half width, 8-frame windows at 128x128.
ASTAR_RECIPE=(--model astar-x3dm --input-size 128 --device cpu --workers 1 --set width=0.5 --set clip_len=8
              --seed 0 --log-every 50)
astar()     { $BIN/amma-edge train --data "$EXP/synth-train" "${ASTAR_RECIPE[@]}" --out "$EXP/astar"; }

evaluate() {
  for run in amma-s-cd amma-s-none astar; do
    [ -f "$EXP/$run/last.pt" ] && $BIN/amma-edge eval --model "$EXP/$run/last.pt" --data "$EXP/synth-test" \
      --out "$EXP/$run/eval-test" --force
  done
}
collect() { $BIN/python benches/collect_training.py "$EXP"; }

case "$STAGE" in
  data) data ;; amma) amma ;; amma-none) amma_none ;; astar) astar ;; eval) evaluate ;; collect) collect ;;
  all) data; amma; amma_none; astar; evaluate; collect ;;
  *) echo "unknown stage $STAGE: data|amma|amma-none|astar|eval|collect|all" >&2; exit 2 ;;
esac
