"""int8 (ONNX Runtime static quantization) against float32: speed and accuracy.

``speed``: ``inference_topdown`` instances/s on the setting of
benchmarks/infer.py (one 640x480 image, 8 boxes, flip test, 2 threads,
seeded random weights at 256x192): posekit PyTorch ``fp32`` (BatchNorms
folded, what ``PoseInferencer`` runs), the float32 ONNX file and its int8
quantization (calibrated on the 4 COCO fixture images, whole images as
boxes), for ResNet-50 SimpleBaseline, HRNet-w32 and RTMPose-s. ``dpx``: the
median and largest keypoint distance (pixels) of int8 from float32 ONNX on
the 8 boxes; random weights give multi-peak heatmaps, so the largest is a
peak swap, not a measure of the trained error (see ``accuracy``).

``accuracy``: the trained quick-start model on the held-out split of the
synthetic data set, through the test loop's own path (the val dataset's
samples, ``test_step``, ``CocoMetric``; flip test on) for PyTorch float32
(as built), float32 ONNX and int8 ONNX (calibrated on 32 annotated boxes of
the *train* split): COCO AP and the keypoint distance of each to PyTorch.

Usage (accuracy after ``bash tools/quickstart.sh``)::

    python benchmarks/quantize.py speed [--models res50 ...] [--iters 10]
    python benchmarks/quantize.py accuracy [--checkpoint CKPT] [--batch 32]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from infer import BOXES, MODELS, image, keypoints, seeded_checkpoint, time_calls  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = str(ROOT / 'tests/data/fixtures/coco/*.jpg')
SYNTHETIC = 'configs/body_2d_keypoint/topdown_heatmap/synthetic/' \
            'td-hm_hrnet-tiny_1xb8-9e_synthetic-128x96.py'


def export_both(model, folder: str, calib) -> tuple[str, str]:
    """(float32, int8) ONNX files of ``model``, dynamic batch."""
    from posekit.export import export_onnx, quantize_onnx
    float_file = export_onnx(model, output=os.path.join(folder, 'model.onnx'),
                             dynamic_batch=True)
    return float_file, quantize_onnx(float_file, os.path.join(folder, 'model.int8.onnx'),
                                     calib)


def bench_speed(name: str, iters: int, threads: int) -> dict:
    from posekit.apis import inference_topdown, init_model, init_onnx_model
    from posekit.apis.optimize import optimize_for_inference
    from posekit.export import calibration_inputs
    torch.set_num_threads(threads)
    config, img = str(ROOT / MODELS[name]), image()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = seeded_checkpoint(config, os.path.join(tmp, 'model.pth'))
        model = init_model(config, ckpt)
        files = export_both(model, tmp, calibration_inputs(model, FIXTURES, num=4))
        fast = optimize_for_inference(init_model(config, ckpt), 'fp32')
        out['pytorch fp32'] = time_calls(lambda: inference_topdown(fast, img, BOXES), iters)
        runs = {}
        for label, path in zip(('onnx fp32', 'onnx int8'), files):
            session = init_onnx_model(config, path, num_threads=threads)
            out[label] = time_calls(lambda s=session: inference_topdown(s, img, BOXES), iters)
            runs[label] = keypoints(inference_topdown(session, img, BOXES))
        dist = np.linalg.norm(runs['onnx int8'] - runs['onnx fp32'], axis=-1)
        out['dpx median'], out['dpx max'] = float(np.median(dist)), float(dist.max())
    return out


def evaluate(model, dataset, batch: int) -> tuple[dict, np.ndarray]:
    """COCO metrics and ``(N, K, 2)`` keypoints of ``model`` on ``dataset``."""
    from posekit.evaluation import Evaluator
    evaluator = Evaluator(dict(model.cfg.test_evaluator[0]))
    evaluator.dataset_meta = dataset.metainfo
    kpts = []
    for start in range(0, len(dataset), batch):
        items = [dataset[i] for i in range(start, min(start + batch, len(dataset)))]
        with torch.no_grad():
            outputs = model.test_step(dict(inputs=[it['inputs'] for it in items],
                                           data_samples=[it['data_samples'] for it in items]))
        evaluator.process(outputs)
        kpts += [o.pred_instances.keypoints[0] for o in outputs]
    return evaluator.evaluate(len(dataset)), np.stack(kpts)


def bench_accuracy(args) -> None:
    from posekit.apis import init_model, init_onnx_model
    from posekit.export import calibration_inputs
    from posekit.registry import DATASETS
    torch.set_num_threads(args.threads)
    config = str(ROOT / SYNTHETIC)
    model = init_model(config, args.checkpoint)
    dataset = DATASETS.build(model.cfg.test_dataloader.dataset.to_dict())
    train = init_model(config, args.checkpoint, cfg_options={
        'test_dataloader.dataset.ann_file': 'annotations/train.json',
        'test_dataloader.dataset.data_prefix': dict(img='images/train/')})
    metrics, reference = evaluate(model, dataset, args.batch)
    print(f'{len(dataset)} people; pytorch fp32: AP {metrics["coco/AP"]:.4f}')
    with tempfile.TemporaryDirectory() as tmp:
        files = export_both(model, tmp, calibration_inputs(train, num=32))
        for label, path in zip(('onnx fp32', 'onnx int8'), files):
            session = init_onnx_model(config, path, num_threads=args.threads)
            metrics, kpts = evaluate(session, dataset, args.batch)
            dist = np.linalg.norm(kpts - reference, axis=-1).ravel()
            print(f'{label}: AP {metrics["coco/AP"]:.4f}; keypoint distance to pytorch '
                  f'(px): mean {dist.mean():.4f}, p99 {np.percentile(dist, 99):.4f}, '
                  f'max {dist.max():.4f}, {(dist > 1).sum()} of {dist.size} > 1 px')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('what', choices=('speed', 'accuracy'))
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--checkpoint', default=str(ROOT / 'work_dirs/quickstart/epoch_9.pth'))
    parser.add_argument('--batch', type=int, default=32)
    args = parser.parse_args()
    if args.what == 'accuracy':
        bench_accuracy(args)
        return
    for name in args.models:
        out = bench_speed(name, args.iters, args.threads)
        speeds = ', '.join(f'{k} {v:.1f}' for k, v in out.items() if 'dpx' not in k)
        print(f'{name}: inst/s {speeds} (int8 {out["onnx int8"] / out["onnx fp32"]:.2f}x '
              f'onnx fp32, {out["onnx int8"] / out["pytorch fp32"]:.2f}x pytorch fp32); '
              f'int8 vs fp32 onnx dpx median {out["dpx median"]:.2f}, max {out["dpx max"]:.1f}',
              flush=True)


if __name__ == '__main__':
    main()
