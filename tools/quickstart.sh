#!/usr/bin/env bash
# posekit's main job on a CPU, after `pip install -e .`:
#   1. write the synthetic COCO-format dataset      (posekit make-synthetic)
#   2. train a small top-down heatmap model on it    (posekit train)
#   3. evaluate it on the held-out split: COCO AP and PCK@0.05 (posekit test)
#   4. run it on the held-out images: pictures and JSON  (posekit infer)
# Everything lands in work_dirs/quickstart/; six of the pictures, tiled, are
# work_dirs/quickstart/predictions.jpg.
#
# On a CPU with native bfloat16 (avx512_bf16 or AMX) training runs under
# bfloat16 autocast (--amp), which is about 1.7x faster there; elsewhere in
# float32. Set POSEKIT_AMP=0 or 1 to choose yourself.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=configs/body_2d_keypoint/topdown_heatmap/synthetic/td-hm_hrnet-tiny_1xb32-20e_synthetic-128x96.py
DATA=data/synthetic-1k
WORK=work_dirs/quickstart
start=$SECONDS

if [ ! -f "$DATA/annotations/val.json" ]; then
    posekit make-synthetic "$DATA" --num-images 1000 --seed 0
fi

amp=${POSEKIT_AMP:-auto}
if [ "$amp" = auto ]; then
    amp=0
    if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then amp=1; fi
fi
amp_flag=()
if [ "$amp" = 1 ]; then amp_flag=(--amp); fi

# POSEKIT_QUICKSTART_EPOCHS=N trains N epochs instead of the config's (CI
# runs the whole job with 1 to check it end to end)
epoch_opts=()
if [ -n "${POSEKIT_QUICKSTART_EPOCHS:-}" ]; then
    epoch_opts=(--cfg-options "train_cfg.max_epochs=$POSEKIT_QUICKSTART_EPOCHS"
                "train_cfg.val_interval=$POSEKIT_QUICKSTART_EPOCHS")
fi

posekit train "$CONFIG" --work-dir "$WORK" --channels-last "${amp_flag[@]}" "${epoch_opts[@]}"
checkpoint=$(cat "$WORK/last_checkpoint")
posekit test "$CONFIG" "$checkpoint" --work-dir "$WORK" --out "$WORK/metrics.json" \
    | grep -E '^(coco/AP|coco/AP .5|coco/AR|PCK):'

# Pose every held-out image inside its annotated boxes: drawn pictures and JSON.
posekit infer "$DATA/images/val" --pose2d "$CONFIG" --pose2d-weights "$checkpoint" \
    --bboxes "$DATA/annotations/val.json" --nms-thr 1 --radius 2 \
    --vis-out-dir "$WORK/vis" --pred-out-dir "$WORK/predictions" --no-progress

python - "$WORK/vis" "$WORK/predictions.jpg" <<'EOF'
"""Tile the first six drawn pictures (2 x 3) into one."""
import os
import sys

import cv2
import numpy as np

vis, out = sys.argv[1:]
tiles = [cv2.imread(os.path.join(vis, name)) for name in sorted(os.listdir(vis))[:6]]
cv2.imwrite(out, np.vstack([np.hstack(tiles[:3]), np.hstack(tiles[3:])]))
print(f'predictions drawn: {out}')
EOF
echo "main job done in $((SECONDS - start)) s"
