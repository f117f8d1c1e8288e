"""How far reduced precision moves a trained model's keypoints.

Runs ``inference_topdown`` on the held-out images of the synthetic data set
(their annotated boxes) with a trained checkpoint, as built (float32) and
optimized for inference at each precision this CPU runs natively, and
prints per precision the keypoint distance to the float32 model (pixels:
mean, 99th percentile, max) and the time per image. The COCO AP of the same
run comes from ``posekit test CONFIG CKPT --precision bf16``.

Usage (after ``bash tools/quickstart.sh``, which trains the default model)::

    python benchmarks/precision.py [--config CFG] [--checkpoint CKPT]
                                   [--data data/synthetic-1k] [--images 100]
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/body_2d_keypoint/topdown_heatmap/synthetic/td-hm_hrnet-tiny_1xb8-9e_synthetic-128x96.py'


def main() -> None:
    from posekit.apis import inference_topdown, init_model, optimize_for_inference
    from posekit.apis.optimize import fast_bfloat16

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=str(ROOT / CONFIG))
    parser.add_argument('--checkpoint', default=str(ROOT / 'work_dirs/quickstart/epoch_9.pth'))
    parser.add_argument('--data', default=str(ROOT / 'data/synthetic-1k'))
    parser.add_argument('--images', type=int, default=100)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = json.loads((Path(args.data) / 'annotations/val.json').read_text())
    boxes = defaultdict(list)
    for ann in data['annotations']:
        x, y, w, h = ann['bbox']
        boxes[ann['image_id']].append([x, y, x + w, y + h])
    images = [(str(Path(args.data) / 'images/val' / im['file_name']), np.float32(boxes[im['id']]))
              for im in data['images'][:args.images] if boxes[im['id']]]

    def run(model):
        start = time.perf_counter()
        kpts = [s.pred_instances.keypoints[0] for path, b in images
                for s in inference_topdown(model, path, b)]
        return np.stack(kpts), (time.perf_counter() - start) / len(images)

    reference, ref_time = run(init_model(args.config, args.checkpoint))
    print(f'{len(images)} images, {len(reference)} people; float32 as built: '
          f'{ref_time * 1000:.1f} ms/image')
    precisions = ['fp32'] + (['bf16'] if fast_bfloat16(torch.device('cpu')) else [])
    for precision in precisions:
        model = optimize_for_inference(init_model(args.config, args.checkpoint), precision)
        kpts, seconds = run(model)
        dist = np.linalg.norm(kpts - reference, axis=-1).ravel()
        print(f'{precision}: keypoint distance to float32 (px): mean {dist.mean():.4f}, '
              f'p99 {np.percentile(dist, 99):.4f}, max {dist.max():.4f}, '
              f'{(dist > 1).sum()} of {dist.size} more than 1 px away; '
              f'{seconds * 1000:.1f} ms/image ({ref_time / seconds:.2f}x)')


if __name__ == '__main__':
    main()
