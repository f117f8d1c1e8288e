#!/usr/bin/env bash
# posekit's main job on a CPU, after `pip install -e .`:
#   1. write the synthetic COCO-format dataset      (posekit make-synthetic)
#   2. train a small model on it                     (posekit train)
#   3. evaluate it on the held-out split: COCO AP (and PCK@0.05 for the
#      top-down model)                               (posekit test)
#   4. run it on the held-out images: pictures and JSON  (posekit infer)
#
#   bash tools/quickstart.sh            top-down heatmap model (tiny HRNet)
#   bash tools/quickstart.sh bottomup   bottom-up Associative Embedding model
#   bash tools/quickstart.sh onestage   one-stage RTMO model (boxes and poses)
#   bash tools/quickstart.sh lift       2D-to-3D lifting (VideoPose3D TCN) on
#                                       synthetic motion capture: MPJPE and
#                                       P-MPJPE in metres; pictures of four
#                                       held-out frames (2D input, predicted
#                                       and ground-truth 3D)
#
# Everything lands in work_dirs/quickstart/ (work_dirs/quickstart-<mode>/);
# six of the pictures, tiled, are predictions.jpg there.
#
# On a CPU with native bfloat16 (avx512_bf16 or AMX) training runs under
# bfloat16 autocast (--amp), which is about 1.7x faster there; elsewhere in
# float32. Set POSEKIT_AMP=0 or 1 to choose yourself.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=data/synthetic-1k
mode=${1:-topdown}
case "$mode" in
    topdown)
        CONFIG=configs/body_2d_keypoint/topdown_heatmap/synthetic/td-hm_hrnet-tiny_1xb8-9e_synthetic-128x96.py
        WORK=work_dirs/quickstart
        METRICS='^(coco/AP|coco/AP .5|coco/AR|PCK):'
        # pose every held-out figure inside its annotated box
        infer_opts=(--bboxes "$DATA/annotations/val.json" --nms-thr 1) ;;
    bottomup)
        CONFIG=configs/body_2d_keypoint/associative_embedding/synthetic/ae_hrnet-tiny_1xb16-20e_synthetic-256x256.py
        WORK=work_dirs/quickstart-bottomup
        METRICS='^(coco/AP|coco/AP .5|coco/AR):'
        infer_opts=() ;;   # no boxes: the model finds everyone
    onestage)
        CONFIG=configs/body_2d_keypoint/rtmo/synthetic/rtmo-tiny_1xb16-20e_synthetic-256x256.py
        WORK=work_dirs/quickstart-onestage
        METRICS='^(coco/AP|coco/AP .5|coco/AR):'
        infer_opts=() ;;
    lift)
        CONFIG=configs/body_3d_keypoint/video_pose_lift/synthetic/video-pose-lift_tcn-27frm-supv_1xb64-12e_synthetic-mocap.py
        WORK=work_dirs/quickstart-lift
        METRICS='^(MPJPE|P-MPJPE):'
        DATA=data/synthetic-mocap
        if [ ! -f "$DATA/annotation_body3d/fps50/h36m_test.npz" ]; then
            posekit make-synthetic "$DATA" --mocap --seed 0
        fi ;;
    *)
        echo "usage: bash tools/quickstart.sh [topdown|bottomup|onestage|lift]" >&2
        exit 2 ;;
esac
start=$SECONDS

if [ "$mode" != lift ] && [ ! -f "$DATA/annotations/val.json" ]; then
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
    if [ "$mode" = onestage ]; then
        # the last epochs without augmentation: at most all but the first
        last=$(( POSEKIT_QUICKSTART_EPOCHS > 3 ? 3 : POSEKIT_QUICKSTART_EPOCHS - 1 ))
        epoch_opts+=("custom_hooks.0.num_last_epochs=$last")
        # after a few epochs its scores stay under the config's score_thr
        # (0.1): draw and save what scores above 0.03
        infer_opts+=(--bbox-thr 0.03)
    fi
fi

posekit train "$CONFIG" --work-dir "$WORK" --channels-last "${amp_flag[@]}" "${epoch_opts[@]}"
checkpoint=$(cat "$WORK/last_checkpoint")
posekit test "$CONFIG" "$checkpoint" --work-dir "$WORK" --out "$WORK/metrics.json" \
    | grep -E "$METRICS"
if [ "$mode" = lift ]; then
    # 2D keypoints in, no images: draw four held-out frames of different
    # videos and cameras (the 2D input, then the predicted and the
    # ground-truth 3D skeletons), one row each
    posekit test "$CONFIG" "$checkpoint" --work-dir "$WORK/show" --show-dir vis \
        --cfg-options "+test_dataloader.dataset.indices=[75,3225,6375,9525]" >/dev/null
    python - "$WORK/show" "$WORK/predictions.jpg" <<'EOF'
"""Stack the newest run's lifting pictures, the input panel cut to its
drawn square (the visualizer pads it to the width of the 3D panels)."""
import glob
import os
import sys

import cv2
import numpy as np

show, out = sys.argv[1:]
run = sorted(glob.glob(os.path.join(show, '*', 'vis')))[-1]
rows = []
for name in sorted(os.listdir(run)):
    picture = cv2.imread(os.path.join(run, name))
    side, width = picture.shape[:2]         # 3D panels: two side x side squares
    left = (width - 3 * side) // 2          # the input square, centred on the left
    rows.append(np.hstack([picture[:, left:left + side], picture[:, width - 2 * side:]]))
cv2.imwrite(out, np.vstack(rows))
print(f'predictions drawn: {out}')
EOF
    echo "main job done in $((SECONDS - start)) s"
    exit 0
fi

# Pose every held-out image: drawn pictures and JSON.
posekit infer "$DATA/images/val" --pose2d "$CONFIG" --pose2d-weights "$checkpoint" \
    "${infer_opts[@]}" --radius 2 \
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
