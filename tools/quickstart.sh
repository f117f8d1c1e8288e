#!/usr/bin/env bash
# posekit's main job on a CPU, after `pip install -e .`:
#   1. write the synthetic COCO-format dataset      (posekit make-synthetic)
#   2. train a small top-down heatmap model on it    (posekit train)
#   3. evaluate it on the held-out split: COCO AP and PCK@0.05 (posekit test)
#   4. draw its predictions on a few held-out images (posekit.apis)
# Everything lands in work_dirs/quickstart/; the picture is
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

posekit train "$CONFIG" --work-dir "$WORK" "${amp_flag[@]}"
checkpoint=$(cat "$WORK/last_checkpoint")
posekit test "$CONFIG" "$checkpoint" --work-dir "$WORK" --out "$WORK/metrics.json" \
    | grep -E '^(coco/AP|coco/AP .5|coco/AR|PCK):'

python - "$CONFIG" "$checkpoint" "$DATA" "$WORK/predictions.jpg" <<'EOF'
"""Draw the model's keypoints in the ground-truth boxes of 6 held-out images."""
import json
import sys

import cv2
import numpy as np

from posekit.apis import inference_topdown, init_model
from posekit.engine.hooks import draw_poses

config, checkpoint, data, out = sys.argv[1:]
model = init_model(config, checkpoint)
ann = json.load(open(f'{data}/annotations/val.json'))
tiles = []
for image in ann['images'][:6]:
    path = f"{data}/images/val/{image['file_name']}"
    boxes = np.array([a['bbox'] for a in ann['annotations']
                      if a['image_id'] == image['id']], np.float32)
    results = inference_topdown(model, path, boxes, bbox_format='xywh')
    kpts = np.concatenate([r.pred_instances.keypoints for r in results])
    scores = np.concatenate([r.pred_instances.keypoint_scores for r in results])
    big = cv2.resize(cv2.imread(path), None, fx=2, fy=2)  # thicker lines
    tiles.append(draw_poses(big, kpts * 2, scores, model.dataset_meta, kpt_thr=0.3))
grid = np.vstack([np.hstack(tiles[i:i + 3]) for i in (0, 3)])
cv2.imwrite(out, grid)
print(f'predictions drawn: {out}')
EOF
echo "main job done in $((SECONDS - start)) s"
