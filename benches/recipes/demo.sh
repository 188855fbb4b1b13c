#!/usr/bin/env bash
# The bundled demo model, from the AMMA-S run of benches/recipes/synthetic.sh (stage amma), exactly as shipped in
# amma_edge/demo/: export, INT8 calibration, evaluation of both on the held-out test set, the model card.
# KEEP_FLOAT=10: the 10 most quantization-sensitive layers stay float, the count `--keep-float auto --max-drop 1.0`
# chose for the first demo model (on 40 validation videos); RUN names the training run folder.
#   bash benches/recipes/demo.sh            (after: bash benches/recipes/synthetic.sh data && ... amma)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
EXP=${EXP:-runs/synthetic}
RUN=${RUN:-$EXP/amma-s-cd}
DEMO=amma_edge/demo
CKPT=${CKPT:-$RUN/best.pt}   # the checkpoint chosen on the validation videos (see README: Training)

$BIN/amma-edge export --model "$CKPT" --out "$DEMO/model" --data "$EXP/synth-test" --force
$BIN/amma-edge calibrate --model "$DEMO/model" --data "$EXP/synth-train" --out "$DEMO/model-int8" \
  --method "${METHOD:-entropy}" --keep-float "${KEEP_FLOAT:-10}" --no-eval --cache "$EXP/calibration-cache" --force
for variant in model model-int8; do
  $BIN/amma-edge eval --model "$DEMO/$variant" --data "$EXP/synth-test" --out "$EXP/demo-eval/$variant" --force
done
$BIN/python benches/make_model_card.py "$RUN" "$EXP/demo-eval/model/eval.json" "$EXP/demo-eval/model-int8/eval.json"
