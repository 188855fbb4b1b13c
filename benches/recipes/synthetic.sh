#!/usr/bin/env bash
# The synthetic-data experiments of the training and evaluation issue, exactly as run for the numbers in
# benches/results/training.json (2 CPU cores, no GPU). Rerun all:   bash benches/recipes/synthetic.sh
# or one stage:   bash benches/recipes/synthetic.sh data|ablation|amma|amma-none|amma-full|amma-skip|amma-skip-none|amma-skip-amp|amma-skip-b8|amma-skip-b8-3500|amma-skip-b4|data-1000|amma-skip-b4-v1000|amma-skip-s4|amma-skip-s4-lr2|amma-skip-s4-lr2-seed1|amma-skip-s4-lr2-clip-seed0|amma-skip-s4-lr2-clip-seed1|amma-skip-s4-lr2-clip-step2|amma-skip-s4-lr2-clip-t8|amma-skip-s4-lr2-clip-k6|amma-skip-s4-lr2-clip-t8-hop4|amma-skip-s4-lr2-clip-t8-hop4-7k|amma-skip-s4-lr2-clip-t8-hop4-7k-seed1|amma-skip-s4-lr2-clip-t8-hop4-7k-v1000|amma-skip-s4-lr2-clip-t8-hop4-learn1|amma-skip-s4-lr2-clip-t8-hop4-center3|amma-skip-s4-lr2-clip-t8-hop4-ema|ema-live|ema-2800|ema-2800-noexpand|ema-2800-live|ema-5k|ema-5k-noexpand|ema-5k-noexpand-seed1|ema-5k-noexpand-v1000|ema-6k-noexpand-v1000|ema-6k-noaug-v1000|ema-44min-noexpand-v1000|ema-5k-live|astar|astar-overfit|astar-overfit-nopal|astar-overfit-256|eval|curve|collect
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

# AMMA-S (ShuffleNetV2, K=3, t=4, conv_diff micro-motion) on the 45-minute, 2-core budget of the issue, and the
# same run without micro-motion (RGB stream only: the Table 1 ablation). The two run side by side, one thread each
# (OMP_NUM_THREADS=1, one data worker each), so each gets one core; 3,600 optimizer steps of batch 16 each.
# Shrunk for the CPU: input 128x160 (HxW, the 4:3 frames at 0.53x), backbone width 0.5, decoder and head
# channels 128. Adam lr 1e-3, 200 warm-up steps, cosine to 0 over the 3,600 steps; centre Gaussians of at least
# one cell (heatmap_min_radius=1). /usr/bin/time writes each run's wall-clock and CPU seconds to <run>.time.
AMMA_RECIPE=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 8 --max-steps 3600 --lr 1e-3
             --set width=0.5 --set feature_dim=128 --set head_conv=128 --set lr_schedule=cosine
             --set warmup_steps=200 --set heatmap_min_radius=1 --set val_max_samples=400 --seed 0 --log-every 50)
timed() { local name=$1; shift; OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 /usr/bin/time -f "%e wall_s %U user_s %S sys_s" \
            -o "$EXP/$name.time" "$@"; }
# The same, alone on both cores (2 threads).
timed2() { local name=$1; shift; OMP_NUM_THREADS=2 /usr/bin/time -f "%e wall_s %U user_s %S sys_s" \
             -o "$EXP/$name.time" "$@"; }
amma()      { timed amma-s-cd $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_RECIPE[@]}" --out "$EXP/amma-s-cd"; }
amma_none() { timed amma-s-none $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_RECIPE[@]}" \
                --set micro_motion=none --out "$EXP/amma-s-none"; }
# The same AMMA-S recipe at full width (ShuffleNetV2 x1.0, decoder and head 256 channels), alone on both cores
# (2 threads), 2,000 steps: the narrow network of the ablation learnt too slowly per step.
AMMA_FULL=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 4 --max-steps 2000 --lr 1e-3
           --set lr_schedule=cosine --set warmup_steps=200 --set heatmap_min_radius=1 --set val_max_samples=400
           --seed 0 --log-every 50)
amma_full() { timed2 "amma-s-full" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_FULL[@]}" --out "$EXP/amma-s-full"; }

# The full-width recipe with the skip decoder (--set decoder=skip: the backbone's stride-16 and stride-8
# features added on the way up), and its RGB-only twin for the micro-motion ablation; each alone on both cores.
# 1,600 steps: chosen from a step time measured while the machine was busy (1.5 s); alone on the cores a step
# costs about 1.3 s, as without the skips, and the run takes 38 minutes.
AMMA_SKIP=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 4 --max-steps 1600 --lr 1e-3
           --set decoder=skip --set lr_schedule=cosine --set warmup_steps=200 --set heatmap_min_radius=1
           --set val_max_samples=400 --seed 0 --log-every 50)
amma_skip()      { timed2 "amma-s-skip" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP[@]}" --out "$EXP/amma-s-skip"; }
amma_skip_none() { timed2 "amma-s-skip-none" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP[@]}" --set micro_motion=none \
                     --out "$EXP/amma-s-skip-none"; }

# The skip recipe with --amp: bfloat16 autocast, which these AVX512-BF16 cores run 1.21x faster per step of 16
# than float32 (benches/results/train_step.json), spent on 1,850 steps instead of 1,600; alone on both cores.
AMMA_SKIP_AMP=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 4 --max-steps 1850 --lr 1e-3
               --amp --set decoder=skip --set lr_schedule=cosine --set warmup_steps=200 --set heatmap_min_radius=1
               --set val_max_samples=400 --seed 0 --log-every 50)
amma_skip_amp() { timed2 "amma-s-skip-amp" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP_AMP[@]}" --out "$EXP/amma-s-skip-amp"; }

# The same with batch 8 and 3,200 steps (the clips of 1,600 steps of 16): a bfloat16 step of 8 costs 0.63 of
# one of 16 here (train_step.json), so the budget buys twice the updates per clip. 400 warm-up steps.
AMMA_SKIP_B8=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 4 --max-steps 3200 --lr 1e-3
              --batch 8 --amp --set decoder=skip --set lr_schedule=cosine --set warmup_steps=400
              --set heatmap_min_radius=1 --set val_max_samples=400 --seed 0 --log-every 100)
amma_skip_b8() { timed2 "amma-s-skip-b8" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP_B8[@]}" --out "$EXP/amma-s-skip-b8"; }

# The batch-8 recipe once the stride-2 depthwise convolutions run in float32 under --amp (their bfloat16
# backward was a fifth of the step; amma_edge.models.backbones.layers): a step of 8 then costs 1.28x less
# (train_step.json), but about 1.16x in the real run, where the data loader shares the two cores: 3,500 steps
# instead of 3,200 (a 3,700-step start projected 44 minutes and was stopped). Everything else as amma-skip-b8.
AMMA_SKIP_B8_3500=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 4 --max-steps 3500 --lr 1e-3
                   --batch 8 --amp --set decoder=skip --set lr_schedule=cosine --set warmup_steps=400
                   --set heatmap_min_radius=1 --set val_max_samples=400 --seed 0 --log-every 100)
amma_skip_b8_3500() { timed2 "amma-s-skip-b8-3500" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP_B8_3500[@]}" --out "$EXP/amma-s-skip-b8-3500"; }

# Batch 4: half the batch again, on the same 45 minutes. A step of 4 costs 0.61 of one of 8 under --amp
# (train_step.json), so 5,600 steps (22,400 clips, 0.8 of the batch-8 run's 28,000) fit; 800 warm-up steps
# (the same 3,200 clips as at batch 8). Everything else as amma-skip-b8-3500.
AMMA_SKIP_B4=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 3 --max-steps 5600 --lr 1e-3
              --batch 4 --amp --set decoder=skip --set lr_schedule=cosine --set warmup_steps=800
              --set heatmap_min_radius=1 --set val_max_samples=400 --seed 0 --log-every 100)
amma_skip_b4() { timed2 "amma-s-skip-b4" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP_B4[@]}" --out "$EXP/amma-s-skip-b4"; }

# Five times the training videos (960 train / 40 validation, seed 0; the test set unchanged), on the batch-4
# recipe: the 200-video runs see each of their ~13,000 training frames in almost two clips, and errors on the
# other seed's videos (false alarms, wrong classes) could point at too few scenes rather than too few steps.
# The same 5,600 steps and clips, so only the data differs; the run ends inside its first epoch (validated at
# the stop). Run on a CPU without bfloat16, where --amp falls back to float32: 73.7 minutes, not 45.
data_1000() {
  $BIN/amma-edge data synth --out "$EXP/synth-train-1000" --videos 1000 --seed 0 --test-fraction 0.04
}
AMMA_SKIP_B4_V1000=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 1 --max-steps 5600 --lr 1e-3
                    --batch 4 --amp --set decoder=skip --set lr_schedule=cosine --set warmup_steps=800
                    --set heatmap_min_radius=1 --set val_max_samples=400 --seed 0 --log-every 100)
amma_skip_b4_v1000() { timed2 "amma-s-skip-b4-v1000" $BIN/amma-edge train --data "$EXP/synth-train-1000" "${AMMA_SKIP_B4_V1000[@]}" --out "$EXP/amma-s-skip-b4-v1000"; }

# A stride-4 output grid (--set output_stride=4: the skip decoder goes one bilinear x2 further and adds the
# backbone's stride-4 stage, amma_edge.models.amma.decoder.SkipDecoder), so a person is 4 cells wide instead of 2;
# head_conv 128 (a step of 4 costs about the same at 64 or 128, 1.23x one at stride 8: benches/bench_train_stride.py,
# results/train_step_stride.json). Otherwise the
# batch-4 recipe step for step (5,600 steps, 800 warm-up, bfloat16 on a CPU with AVX512-BF16, the 200 videos).
# A 6,400-step start ran at 0.42 s a step beside its data loader, projected 48 minutes, and was stopped.
AMMA_SKIP_S4=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 3 --max-steps 5600 --lr 1e-3
              --batch 4 --amp --set decoder=skip --set output_stride=4 --set head_conv=128 --set lr_schedule=cosine
              --set warmup_steps=800 --set heatmap_min_radius=1 --set val_max_samples=400 --seed 0 --log-every 100)
amma_skip_s4() { timed2 "amma-s-skip-s4" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP_S4[@]}" --out "$EXP/amma-s-skip-s4"; }

# The stride-4 recipe at twice the peak learning rate (Adam 2e-3, same warm-up and cosine): every run so far
# ended with its training loss above its validation loss, short of updates rather than of data.
AMMA_SKIP_S4_LR2=(--model amma-s --input-size 128x160 --device cpu --workers 1 --epochs 3 --max-steps 5600 --lr 2e-3
                  --batch 4 --amp --set decoder=skip --set output_stride=4 --set head_conv=128 --set lr_schedule=cosine
                  --set warmup_steps=800 --set heatmap_min_radius=1 --set val_max_samples=400 --seed 0 --log-every 100)
amma_skip_s4_lr2() { timed2 "amma-s-skip-s4-lr2" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP_S4_LR2[@]}" --out "$EXP/amma-s-skip-s4-lr2"; }

# The same with training seed 1 (initialisation, clip order, augmentation; the data unchanged): how far apart
# two runs of one recipe land, which no rerun had measured.
amma_skip_s4_lr2_seed1() { timed2 "amma-s-skip-s4-lr2-seed1" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP_S4_LR2[@]}" --seed 1 \
                             --out "$EXP/amma-s-skip-s4-lr2-seed1"; }

# The seed-1 run above blew up at step 1,700: one gradient of total norm 34,161 among steps whose norm averaged
# 14-20 (largest per 100 steps 24-99 after the warm-up; the trainer logs both), and Adam's second moment then
# held the learning of the parameters it hit back for the rest of the run. The same two runs with the total
# gradient norm clipped at 50 (--set grad_clip=50), above all but the rare steps, below the spike.
AMMA_SKIP_S4_LR2_CLIP=("${AMMA_SKIP_S4_LR2[@]}" --set grad_clip=50)
amma_skip_s4_lr2_clip() { timed2 "amma-s-skip-s4-lr2-clip-seed$1" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP_S4_LR2_CLIP[@]}" --seed "$1" \
                            --out "$EXP/amma-s-skip-s4-lr2-clip-seed$1"; }

# The clipped seed-0 recipe with the model reading every other frame (--set frame_step=2): its K = 3 clips of
# t = 4 frames then span 24 frames (0.96 s at 25 fps) instead of 12, at the same cost per step, so the actions
# told apart by their direction (sit_down, stand_up, jump's crouch) are seen over twice the time. The frames in
# between get interpolated boxes, in evaluation as on the device. Everything else as amma-skip-s4-lr2-clip-seed0.
amma_skip_s4_lr2_clip_step2() { timed2 amma-s-skip-s4-lr2-clip-step2-seed0 $BIN/amma-edge train --data "$EXP/synth-train" \
                                  "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set frame_step=2 --seed 0 \
                                  --out "$EXP/amma-s-skip-s4-lr2-clip-step2-seed0"; }

# The clipped seed-0 recipe with clips of t = 8 frames (--set t=8), every frame read: the K = 3 clips span the
# same 24 frames as frame_step=2, at the same encoder cost per clip (the appearance stream reads each clip's
# last frame; only the micro-motion input grows, to 7 frame differences), but the motion stream sees every
# consecutive frame. frame_step=2 gained sit_down/stand_up and lost run: this tells whether run lost to the
# coarser motion input (then t=8 keeps it) or to boxes 8 frames apart (then t=8 loses it too).
amma_skip_s4_lr2_clip_t8() { timed2 amma-s-skip-s4-lr2-clip-t8-seed0 $BIN/amma-edge train --data "$EXP/synth-train" \
                               "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set t=8 --seed 0 \
                               --out "$EXP/amma-s-skip-s4-lr2-clip-t8-seed0"; }

# K = 6 clips of t = 4 (--set K=6): the same 24-frame context as t=8 with boxes 4 frames apart, as at K = 3.
# Each training sample encodes 6 clips instead of 3: a 2,800-step start ran 6.6 clips/s against 8-10 at K = 3
# (28 minutes projected) and was stopped, and 4,000 steps (600 warm-up, about the same share of the schedule)
# fit the 45 minutes instead of 5,600. On a stream it still costs one clip encoding per 4 frames; only the
# head reads 6 cached features instead of 3.
amma_skip_s4_lr2_clip_k6() { timed2 amma-s-skip-s4-lr2-clip-k6-seed0 $BIN/amma-edge train --data "$EXP/synth-train" \
                               "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set K=6 --max-steps 4000 --set warmup_steps=600 \
                               --seed 0 --out "$EXP/amma-s-skip-s4-lr2-clip-k6-seed0"; }

# Clips of t = 8 that overlap by half (--set t=8 --set hop=4): K = 3 clips whose ends are 4 frames apart, as
# at t = 4, so the boxes are as dense, while each clip's micro-motion reads 8 consecutive frames, as at t = 8
# (which gained sit_down/stand_up and lost run and fall to boxes 8 frames apart). The 3 clips span 16 frames. A
# step costs what one of the t = 8 run did (46.6 minutes for 5,600): 5,400 steps keep the run inside 45 minutes.
# On a stream the encoder runs once per 4 frames, as at t = 4.
amma_skip_s4_lr2_clip_t8_hop4() { timed2 amma-s-skip-s4-lr2-clip-t8-hop4-seed0 $BIN/amma-edge train --data "$EXP/synth-train" \
                                    "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set t=8 --set hop=4 --max-steps 5400 --seed 0 \
                                    --out "$EXP/amma-s-skip-s4-lr2-clip-t8-hop4-seed0"; }

# The overlapping-clip recipe above with 7,000 steps instead of 5,400 (4 epochs of 2,042 steps allow them; the
# same 800-step warm-up, cosine to 0 over the longer schedule): that run used 32.3 of its 45 minutes at
# 0.36 s a step, so it was short of updates, not of time. 7,000 steps at that pace take 42 minutes.
# $1 is the training seed: seed 1 (stage ...-7k-seed1) measures how far two runs of this recipe land apart.
amma_skip_s4_lr2_clip_t8_hop4_7k() { timed2 "amma-s-skip-s4-lr2-clip-t8-hop4-7k-seed$1" $BIN/amma-edge train --data "$EXP/synth-train" \
                                       "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set t=8 --set hop=4 --epochs 4 --max-steps 7000 --seed "$1" \
                                       --out "$EXP/amma-s-skip-s4-lr2-clip-t8-hop4-7k-seed$1"; }

# The 7,000-step overlapping-clip recipe (seed 0) on the 960 training videos of data-1000 (its own 40 for
# validation) instead of 200: at batch 4 the 7,000 steps are 0.7 of an epoch there, so no training clip is seen
# twice, where the 200 videos were seen 3.4 times. At stride 8 five times the videos lifted the tubes
# (video-mAP@0.2 +12.0, @0.5 +4.9) and not frame-mAP; this asks the same of the best stride-4 recipe.
amma_skip_s4_lr2_clip_t8_hop4_7k_v1000() { timed2 amma-s-skip-s4-lr2-clip-t8-hop4-7k-v1000 $BIN/amma-edge train \
                                             --data "$EXP/synth-train-1000" "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set t=8 --set hop=4 \
                                             --epochs 4 --max-steps 7000 --seed 0 \
                                             --out "$EXP/amma-s-skip-s4-lr2-clip-t8-hop4-7k-v1000"; }

# last.pt after each epoch, kept as epoch<N>.pt for the learning curve (the trainer overwrites last.pt).
# The 7,000-step overlapping-clip recipe (seed 0, the 200 videos) with the encoder learning through one of each
# sample's K = 3 clips a step, drawn at random (--set learn_clips=1), the other two encoded without autograd as
# context for the head: a step costs 0.242 s against 0.300 beside it (1.24x, benches/bench_train_step.py
# --variants learn_clips, results/train_step_learn_clips.json), and the 7,000-step run was still gaining from
# more updates (5,400 steps: 50.1 frame-mAP, 7,000: 54.1). 8,200 steps fit the 45 minutes; the encoder's
# gradient then comes from 4 clips a step instead of 12, so this asks which of the two counts more.
amma_skip_s4_lr2_clip_t8_hop4_learn1() { timed2 amma-s-skip-s4-lr2-clip-t8-hop4-learn1-seed0 $BIN/amma-edge train \
                                           --data "$EXP/synth-train" "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set t=8 --set hop=4 \
                                           --set learn_clips=1 --epochs 5 --max-steps 8200 --seed 0 \
                                           --out "$EXP/amma-s-skip-s4-lr2-clip-t8-hop4-learn1-seed0"; }
# The 7,000-step overlapping-clip recipe (seed 0) with three 3x3 convolutions in the head's center branch
# instead of one (--set center_depth=3): the class decision then reads 7x7 output cells (28 pixels at stride
# 4, about a person's width) of the K stacked clip features instead of 3x3, while classification stays the
# largest error (16-27 % of the ground truth in the runs above). A step costs 1.035x (0.296 s against 0.286,
# results/train_step_head.json), so the 7,000 steps still fit the 45 minutes.
amma_skip_s4_lr2_clip_t8_hop4_center3() { timed2 amma-s-skip-s4-lr2-clip-t8-hop4-center3-seed0 $BIN/amma-edge train \
                                            --data "$EXP/synth-train" "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set t=8 --set hop=4 \
                                            --set center_depth=3 --epochs 4 --max-steps 7000 --seed 0 \
                                            --out "$EXP/amma-s-skip-s4-lr2-clip-t8-hop4-center3-seed0"; }
# The 7,000-step overlapping-clip recipe (seed 0) validating and shipping an exponential moving average of
# the weights (--set ema_decay=0.999, about the last 1,000 steps) instead of the last step's: at batch 4 every
# step is noisy, two seeds of that recipe landed 4.1 frame-mAP apart (54.1, 50.0), and three changes to the
# head or the gradient sample (center3, learn1) scored lower. The average costs one lerp per weight per step.
amma_skip_s4_lr2_clip_t8_hop4_ema() { timed2 amma-s-skip-s4-lr2-clip-t8-hop4-ema-seed0 $BIN/amma-edge train \
                                        --data "$EXP/synth-train" "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set t=8 --set hop=4 \
                                        --set ema_decay=0.999 --epochs 4 --max-steps 7000 --seed 0 \
                                        --out "$EXP/amma-s-skip-s4-lr2-clip-t8-hop4-ema-seed0"; }
# The EMA run's own live weights at step 7,000, scored on the same test videos: the paired measure of what the
# average bought (the same trajectory, so no seed-to-seed spread in the difference).
ema_live() {
  local run="$EXP/amma-s-skip-s4-lr2-clip-t8-hop4-ema-seed0"
  $BIN/python benches/live_weights.py "$run/last.pt" "$run/live.pt"
  $BIN/amma-edge eval --model "$run/live.pt" --data "$EXP/synth-test" --out "$run/eval-test-live" --force
}
# The same EMA recipe on a machine a third as fast (float32 only, 4.3 clips/s against 11): 2,800 steps fit the
# 45 minutes there. Run twice on that machine: as is, and without the SSD-style zoom-out and crop
# (--set expand_crop=false; flip, photometric, scale and location jitter kept). The default augmentation
# shrinks a quarter of the training samples' people below 0.48x and enlarges a tenth above 1.5x, scales the
# test videos never show, on a model every run above says is short of updates (results/augment_scale.json).
# Both scored with their averaged and their live weights (stage ema-2800-live).
# One EMA run of the overlapping-clip recipe: $1 names it (2800, 5k), $2 and $3 are its epochs and steps, $4 the
# training seed, $5 a suffix for the run folder (-noexpand), the rest extra train settings.
ema_steps() { local run="amma-s-skip-s4-lr2-clip-t8-hop4-ema-$1$5-seed$4"
              timed2 "$run" $BIN/amma-edge train --data "$EXP/synth-train" "${AMMA_SKIP_S4_LR2_CLIP[@]}" --set t=8 \
                --set hop=4 --set ema_decay=0.999 --epochs "$2" --max-steps "$3" --seed "$4" "${@:6}" --out "$EXP/$run"; }
# The live weights of each named EMA run that finished, scored on the test videos beside its averaged ones.
score_live() {
  for run in "$@"; do
    [ -f "$EXP/$run/last.pt" ] || continue
    $BIN/python benches/live_weights.py "$EXP/$run/last.pt" "$EXP/$run/live.pt"
    $BIN/amma-edge eval --model "$EXP/$run/live.pt" --data "$EXP/synth-test" --out "$EXP/$run/eval-test-live" --force
  done
}
ema_2800() { ema_steps 2800 2 2800 0 "$@"; }
ema_2800_live() { score_live amma-s-skip-s4-lr2-clip-t8-hop4-ema-2800-seed0 amma-s-skip-s4-lr2-clip-t8-hop4-ema-2800-noexpand-seed0; }
# The EMA recipe on a machine of the AVX512-BF16 kind that runs it at 8.1 clips/s instead of 11 (measured over
# the first 200 steps of a 7,000-step start here, which projected 58 minutes and was stopped): 5,000 steps fit
# the 45 minutes with the validations. As is and without expand/crop, each scored with its averaged and its
# live weights (stage ema-5k-live).
# $1 of ema_5k is the training seed.
ema_5k() { ema_steps 5k 3 5000 "$@"; }
# Stage ema-5k-noexpand-seed1 runs the no-expand 5,000 steps again with training seed 1 (initialisation, clip
# order, augmentation draws; the data unchanged): its +21.9 frame-mAP over the default augmentation was one seed,
# and two seeds of the 7,000-step recipe had landed 4.1 frame-mAP apart. ema-5k-live scores the live weights of these and of ema-5k-noexpand-v1000 below.
# The no-expand 5,000-step recipe (seed 0) on the 960 training videos of data-1000 (made first if missing; its own
# 40 for validation): without expand/crop the 200-video run ended with its training loss below its validation loss
# (1.46 against 1.66, the best validation at epoch 2 of 3), the first run here to do so, so it may now be short
# of scenes rather than of updates. 5,000 steps are about half an epoch there: --epochs 1 keeps the same
# schedule, validated once at the stop. Only the data differ from ema-5k-noexpand.
# Stage ema-5k-noexpand-v1000 is that run. One function makes the 960-video EMA runs: $1 names the run
# (5k-noexpand, ...), the rest are its own settings (the stage table at the end gives each one's).
ema_v1000() { [ -f "$EXP/synth-train-1000/annotations.json" ] || data_1000
              local run=amma-s-skip-s4-lr2-clip-t8-hop4-ema-$1-v1000; shift
              timed2 "$run" $BIN/amma-edge train --data "$EXP/synth-train-1000" "${AMMA_SKIP_S4_LR2_CLIP[@]}" \
                --set t=8 --set hop=4 --set ema_decay=0.999 --epochs 1 --seed 0 "$@" --out "$EXP/$run"; }
# Stage ema-6k-noexpand-v1000: the same with 6,000 steps, the rest of the 45 minutes: the 5,000-step run took
# 32.7 minutes on its machine (AMD EPYC, bfloat16, ~10 clips/s) and ended at its best validation loss, still
# inside its first epoch; 6,000 steps project 39 minutes there. Still less than one epoch of the 960 videos.
# Stage ema-6k-noaug-v1000: the 6,000-step 960-video run with no augmentation at all (--set augment=false:
# frames only resized to 128x160). Dropping expand/crop gained 21.9 frame-mAP, and a run that ends inside its
# first epoch of 960 videos sees each training clip about once, so what the rest (flip, scale and location
# jitter, colour) buys against videos that already vary light, camera and scene is the open question.
# Stage ema-44min-noexpand-v1000: the same recipe held to the clock instead of a step count (--max-minutes 44:
# the cosine schedule re-plans its length from the pace of the last 500 steps and ends annealed at 44 minutes
# of training, amma_edge.train.budget), so the run fits the 45 minutes on whatever machine it lands: a
# 7,500-step start of it (the 6,000-step run's lowest validation loss was at its stop), projected at 43
# minutes from the no-augmentation run's 0.33 s a step, ran at 0.34-0.45 s a step on the same machine and was
# stopped at step 2,704, projecting 46.
ema_5k_live() { score_live amma-s-skip-s4-lr2-clip-t8-hop4-ema-5k-seed0 amma-s-skip-s4-lr2-clip-t8-hop4-ema-5k-noexpand-seed0 \
                           amma-s-skip-s4-lr2-clip-t8-hop4-ema-5k-noexpand-seed1 amma-s-skip-s4-lr2-clip-t8-hop4-ema-5k-noexpand-v1000 \
                           amma-s-skip-s4-lr2-clip-t8-hop4-ema-6k-noexpand-v1000 \
                           amma-s-skip-s4-lr2-clip-t8-hop4-ema-6k-noaug-v1000 amma-s-skip-s4-lr2-clip-t8-hop4-ema-44min-noexpand-v1000; }
snapshots() {
  while true; do
    for run in "$@"; do
      [ -f "$EXP/$run/log.jsonl" ] || continue
      for n in $(grep -o '"event": "epoch", "time": [0-9.]*, "epoch": [0-9]*' "$EXP/$run/log.jsonl" | grep -o '[0-9]*$'); do
        [ -f "$EXP/$run/epoch$n.pt" ] || { sleep 20; cp "$EXP/$run/last.pt" "$EXP/$run/epoch$n.pt.tmp" &&
                                           mv "$EXP/$run/epoch$n.pt.tmp" "$EXP/$run/epoch$n.pt"; }
      done
    done
    sleep 30
  done
}
ablation()  { snapshots amma-s-cd amma-s-none & local s=$!; amma & local a=$!; amma_none & local b=$!
              wait $a $b; kill $s; }

# A*, X3D-M at half width, 8-frame windows at 128x128, on one core beside the AMMA-S run (one thread): PyTorch's
# CPU depthwise 3-D convolution backward dominates each step, so A* gets few steps in this budget. Batch 8,
# AdamW lr 5e-4, 50 warm-up steps, cosine to 0 over 1,000 steps (about 50 minutes).
ASTAR_RECIPE=(--model astar-x3dm --input-size 128 --device cpu --workers 1 --batch 8 --epochs 1 --max-steps 1000
              --lr 5e-4 --set width=0.5 --set clip_len=8 --set lr_schedule=cosine --set warmup_steps=50
              --set val_max_samples=200 --seed 0 --log-every 10)
astar()     { timed astar $BIN/amma-edge train --data "$EXP/synth-train" "${ASTAR_RECIPE[@]}" --out "$EXP/astar"; }

# Can A* fit the videos it trains on? 400 steps of 8 on 8 training videos (one per class, another data seed),
# then scored on those same 8: how fast it fits what it sees, before any question of generalising. Both
# cores, bfloat16; the ASTAR_RECIPE model. Writes benches/results/astar_overfit.json.
ASTAR_OVERFIT=(--data "$EXP/tiny" --model astar-x3dm --input-size 128 --device cpu --workers 1 --batch 8 --epochs 200
               --max-steps 400 --lr 5e-4 --amp --set width=0.5 --set clip_len=8 --set lr_schedule=cosine
               --set warmup_steps=30 --set val_max_samples=40 --seed 0 --log-every 20)
# One overfitting check: the tiny set (made once), 400 steps with the extra settings given, scored on its own
# training videos; $1 is the stage, which names the run folder and benches/results/<stage, - as _>.json.
overfit_check() {
  local stage=$1; shift
  [ -f "$EXP/tiny/annotations.json" ] || $BIN/amma-edge data synth --out "$EXP/tiny" --videos 16 --seed 7 --test-fraction 0.5
  timed2 "$stage" $BIN/amma-edge train "${ASTAR_OVERFIT[@]}" "$@" --out "$EXP/$stage"
  $BIN/amma-edge eval --model "$EXP/$stage/last.pt" --data "$EXP/tiny" --split train --out "$EXP/$stage/eval-train" --force
  $BIN/python benches/collect_overfit.py "$EXP/$stage" "$stage"
}
astar_overfit() { overfit_check astar-overfit; }
# The same check without the proxy-anchor loss (--set pal_weight=0). In astar-overfit the median total
# gradient norm was 555 (AMMA's runs: about 10) and the PAL term was 7.1 of the final loss of 10.8: its
# gradient (scaled by alpha = 32) may be what trains the shared backbone and LLFA, leaving the box and
# objectness branches features they cannot fit from scratch. The paper starts from a Kinetics-pretrained X3D.
astar_overfit_nopal() { overfit_check astar-overfit-nopal --set pal_weight=0; }
# The same check at 256x256 (--input-size 256): an 8x8 grid instead of 4x4, so a person spans about 2x3
# cells instead of 1x2, the scale YOWO's anchors (0.7-3.5 x 1.2-5.9 cells) were chosen for. About 4x the
# cost of a step. If A* fits its videos here, the coarse grid (with anchors too big for it) held it back at 128.
astar_overfit_256() { overfit_check astar-overfit-256 --input-size 256; }

evaluate() {
  # every run named in benches/recipes/runs.txt (the list collect_training.py reads too)
  for run in $(grep -v '^#' benches/recipes/runs.txt); do
    [ -f "$EXP/$run/last.pt" ] && $BIN/amma-edge eval --model "$EXP/$run/last.pt" --data "$EXP/synth-test" \
      --out "$EXP/$run/eval-test" --force
  done
}
curve() {
  for ckpt in "$EXP"/*/epoch*.pt; do
    [ -f "$ckpt" ] || continue
    n=$(basename "$ckpt" .pt); run=$(dirname "$ckpt")
    [ -f "$run/curve/$n/eval.json" ] || $BIN/amma-edge eval --model "$ckpt" --data "$EXP/synth-test" --out "$run/curve/$n" --force
  done
}
collect() { $BIN/python benches/collect_training.py "$EXP"; }

case "$STAGE" in
  data) data ;; amma) amma ;; amma-none) amma_none ;; ablation) ablation ;; amma-full) amma_full ;;
  amma-skip) amma_skip ;; amma-skip-none) amma_skip_none ;; amma-skip-amp) amma_skip_amp ;; amma-skip-b8) amma_skip_b8 ;; amma-skip-b8-3500) amma_skip_b8_3500 ;; amma-skip-b4) amma_skip_b4 ;; data-1000) data_1000 ;; amma-skip-b4-v1000) amma_skip_b4_v1000 ;; amma-skip-s4) amma_skip_s4 ;; amma-skip-s4-lr2) amma_skip_s4_lr2 ;; amma-skip-s4-lr2-seed1) amma_skip_s4_lr2_seed1 ;; amma-skip-s4-lr2-clip-seed0) amma_skip_s4_lr2_clip 0 ;; amma-skip-s4-lr2-clip-seed1) amma_skip_s4_lr2_clip 1 ;; amma-skip-s4-lr2-clip-step2) amma_skip_s4_lr2_clip_step2 ;; amma-skip-s4-lr2-clip-t8) amma_skip_s4_lr2_clip_t8 ;; amma-skip-s4-lr2-clip-k6) amma_skip_s4_lr2_clip_k6 ;; amma-skip-s4-lr2-clip-t8-hop4) amma_skip_s4_lr2_clip_t8_hop4 ;; amma-skip-s4-lr2-clip-t8-hop4-7k) amma_skip_s4_lr2_clip_t8_hop4_7k 0 ;; amma-skip-s4-lr2-clip-t8-hop4-7k-seed1) amma_skip_s4_lr2_clip_t8_hop4_7k 1 ;; amma-skip-s4-lr2-clip-t8-hop4-7k-v1000) amma_skip_s4_lr2_clip_t8_hop4_7k_v1000 ;; amma-skip-s4-lr2-clip-t8-hop4-learn1) amma_skip_s4_lr2_clip_t8_hop4_learn1 ;; amma-skip-s4-lr2-clip-t8-hop4-center3) amma_skip_s4_lr2_clip_t8_hop4_center3 ;; amma-skip-s4-lr2-clip-t8-hop4-ema) amma_skip_s4_lr2_clip_t8_hop4_ema ;; ema-live) ema_live ;; ema-2800) ema_2800 "" ;; ema-2800-noexpand) ema_2800 -noexpand --set expand_crop=false ;; ema-2800-live) ema_2800_live ;; ema-5k) ema_5k 0 "" ;; ema-5k-noexpand) ema_5k 0 -noexpand --set expand_crop=false ;; ema-5k-noexpand-seed1) ema_5k 1 -noexpand --set expand_crop=false ;; ema-5k-noexpand-v1000) ema_v1000 5k-noexpand --max-steps 5000 --set expand_crop=false ;; ema-6k-noexpand-v1000) ema_v1000 6k-noexpand --max-steps 6000 --set expand_crop=false ;; ema-6k-noaug-v1000) ema_v1000 6k-noaug --max-steps 6000 --set augment=false ;; ema-44min-noexpand-v1000) ema_v1000 44min-noexpand --max-steps 0 --max-minutes 44 --set expand_crop=false ;; ema-5k-live) ema_5k_live ;; astar) astar ;; astar-overfit) astar_overfit ;; astar-overfit-nopal) astar_overfit_nopal ;; astar-overfit-256) astar_overfit_256 ;; eval) evaluate ;; curve) curve ;; collect) collect ;;
  all) data; ablation; astar; evaluate; curve; collect ;;
  *) echo "unknown stage $STAGE: the stages are listed at the top of $0" >&2; exit 2 ;;
esac
