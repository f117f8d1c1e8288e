"""Training step time and inference throughput on a CUDA GPU.

Training: SimpleBaseline res50 (``td-hm_res50`` COCO 256x192) and RTMPose-m
(the model of ``rtmpose-m_8xb256-420e_body8-256x192.py``: CSPNeXt-m and
RTMCCHead, 256x192), a batch of ``--batch`` real crops of the COCO fixture
(the train pipeline's geometry and the config's codec targets; the same batch
every step), Adam. Milliseconds per optimisation step (data preprocessor,
forward, loss, backward, update, and the loss read back as the runner does)
over ``--steps`` steps after 5 warm-up steps, in five settings: fp32,
fp32 + channels_last, AMP float16 (``AmpOptimWrapper``, dynamic loss scale),
AMP float16 + channels_last, AMP bfloat16 + channels_last. Ratios are to
fp32 of the same model.

Inference: ``PoseInferencer(device=...)`` (what ``posekit infer --device
cuda`` runs) with RTMPose-s on the 100-image folder of
``benchmarks/infer_folder.py`` (2-4 boxes an image, flip test on, JSON not
written), images/s by batch size, fp32 and bf16.

Runs on a CPU too (``--device cpu``, a dry run with few steps). Prints
figures; asserts nothing. Usage::

    python benchmarks/gpu.py [--device cuda] [--batch 64] [--steps 20]
                             [--models res50 rtmpose-m] [--no-infer]
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODELS = {
    'res50': 'configs/body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
    'rtmpose-m': 'configs/body_2d_keypoint/rtmpose/body8/rtmpose-m_8xb256-420e_body8-256x192.py',
}
SETTINGS = [  # name, optim_wrapper type, AMP dtype, channels_last
    ('fp32', 'OptimWrapper', None, False),
    ('fp32 + channels_last', 'OptimWrapper', None, True),
    ('AMP fp16', 'AmpOptimWrapper', 'float16', False),
    ('AMP fp16 + channels_last', 'AmpOptimWrapper', 'float16', True),
    ('AMP bf16 + channels_last', 'AmpOptimWrapper', 'bfloat16', True),
]


def training_batch(cfg, batch: int) -> dict:
    """``batch`` packed crops of the COCO fixture's people, the config's codec."""
    from pipeline import data_infos
    from posekit.datasets.transforms import Compose
    from posekit.engine.dataloader import pseudo_collate
    codec = cfg.codec
    pipeline = Compose([
        dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
        dict(type='RandomFlip', direction='horizontal'), dict(type='RandomBBoxTransform'),
        dict(type='TopdownAffine', input_size=codec['input_size']),
        dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')])
    infos = data_infos()
    return pseudo_collate([pipeline(copy.deepcopy(infos[i % len(infos)]))
                           for i in range(batch)])


def step_ms(config: str, setting: tuple, device: torch.device, batch: int,
            steps: int) -> float:
    from posekit.config import Config
    from posekit.engine.loops import train_step
    from posekit.engine.optim.builder import build_optim_wrapper
    from posekit.engine.setup import build_model
    _, wrapper, dtype, channels_last = setting
    cfg = Config.fromfile(str(ROOT / config))
    cfg.model.backbone.init_cfg = None   # no ImageNet download
    torch.manual_seed(0)
    model = build_model(cfg.model, None, device, None, channels_last)
    model.train()
    optim = dict(type=wrapper, optimizer=dict(type='Adam', lr=1e-4))
    if dtype:
        optim['dtype'] = dtype
    optim_wrapper = build_optim_wrapper(model, optim)
    data = training_batch(cfg, batch)
    for _ in range(5):
        train_step(model, data, optim_wrapper)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, data, optim_wrapper)
    sync(device)
    return (time.perf_counter() - start) / steps * 1000


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def inference(device: str, batch_sizes: list[int], images: int) -> None:
    from infer_folder import CONFIG, write_folder, write_weights
    from posekit.apis import PoseInferencer
    with tempfile.TemporaryDirectory() as tmp:
        folder, dets = write_folder(Path(tmp), images)
        weights = Path(tmp) / 'rtmpose-s.pth'
        write_weights(weights)
        print(f'\nPoseInferencer, RTMPose-s 256x192, flip test, {images} images, images/s')
        print(f'{"batch":>5}' + ''.join(f'{p:>9}' for p in ('fp32', 'bf16')))
        for batch_size in batch_sizes:
            cells = []
            for precision in ('fp32', 'bf16'):
                inferencer = PoseInferencer(str(ROOT / CONFIG), str(weights), device=device,
                                            batch_size=batch_size, precision=precision)
                list(inferencer(str(folder), bboxes=str(dets), nms_thr=1.))   # warm-up
                start = time.perf_counter()
                done = sum(1 for _ in inferencer(str(folder), bboxes=str(dets), nms_thr=1.))
                cells.append(done / (time.perf_counter() - start))
            print(f'{batch_size:>5}' + ''.join(f'{c:9.1f}' for c in cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--infer-batch-sizes', type=int, nargs='+', default=[1, 8, 32])
    parser.add_argument('--infer-images', type=int, default=100)
    parser.add_argument('--no-infer', action='store_true')
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    print(f'{name}, torch {torch.__version__}; training step, batch {args.batch}, '
          f'{args.steps} steps (ms per step, ratio to fp32)')
    for model in args.models:
        base = None
        for setting in SETTINGS:
            if setting[2] == 'float16' and device.type != 'cuda':
                print(f'{model:<10} {setting[0]:<26} (float16 autocast is CUDA only)')
                continue
            ms = step_ms(MODELS[model], setting, device, args.batch, args.steps)
            base = base or ms
            print(f'{model:<10} {setting[0]:<26} {ms:9.1f} ms {base / ms:6.2f}x', flush=True)
    if not args.no_infer:
        inference(args.device, args.infer_batch_sizes, args.infer_images)


if __name__ == '__main__':
    main()
