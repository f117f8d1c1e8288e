"""``posekit browse-dataset CONFIG --output-dir DIR``: look at what the model sees.

Builds the dataset of one phase's dataloader from a config, runs its pipeline
and writes one picture per sample with the keypoints and skeleton drawn:

- ``--mode original``: only the image is loaded; the annotations (boxes,
  keypoints) are drawn in original image pixels;
- ``--mode transformed`` (default): the whole pipeline runs except the final
  packing; ``transformed_keypoints`` are drawn on the warped model input.

Colors come from the dataset meta information. They are drawn as MMPose's
visualizer shows them (which reads each triplet as RGB), so pictures look
the same in both tools.
"""
from __future__ import annotations

import argparse
import copy
import os
import os.path as osp
from typing import Any

import cv2
import numpy as np

from posekit.commands.print_config import add_cfg_options
from posekit.config import Config, ConfigError, parse_cfg_options

# Visibility above which a keypoint is drawn (MMPose's kpt_thr default).
KPT_THR = 0.3
IMAGE_EXTS = ('.jpg', '.jpeg', '.png')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('config', help='config file (.py)')
    parser.add_argument('--output-dir', required=True,
                        help='folder the pictures are written to')
    parser.add_argument('--phase', default='train',
                        choices=['train', 'val', 'test'],
                        help='whose dataloader dataset to browse '
                        '(default: %(default)s)')
    parser.add_argument('--mode', default='transformed',
                        choices=['original', 'transformed'],
                        help="'original': loaded images and raw annotations; "
                        "'transformed': after the pipeline (default)")
    parser.add_argument('--max-samples', '--max-item-per-dataset', type=int,
                        default=50, dest='max_samples',
                        help='how many samples to draw (default: %(default)s)')
    add_cfg_options(parser)


def run(args: argparse.Namespace) -> int:
    from posekit.registry import DATASETS  # imports torch: only when run

    cfg = Config.fromfile(args.config,
                          cfg_options=parse_cfg_options(args.cfg_options))
    loader_key = f'{args.phase}_dataloader'
    if loader_key not in cfg or 'dataset' not in cfg[loader_key]:
        raise ConfigError(f'{args.config}: no {loader_key}.dataset to browse')
    dataset_cfg = _browse_pipeline(cfg[loader_key]['dataset'], args.mode)
    dataset = DATASETS.build(dataset_cfg)
    metainfo = dataset.metainfo

    os.makedirs(args.output_dir, exist_ok=True)
    count = min(len(dataset), max(args.max_samples, 0))
    for idx in range(count):
        item = dataset[idx]
        if args.mode == 'original':
            picture = draw_pose(item['img'], item.get('keypoints'),
                                item.get('keypoints_visible'), metainfo,
                                bboxes=item.get('bbox'))
        else:
            picture = draw_pose(item['img'], item.get('transformed_keypoints'),
                                item.get('keypoints_visible'), metainfo)
        out_file = osp.join(args.output_dir,
                            _file_name(idx, item.get('img_path')))
        if not cv2.imwrite(out_file, picture):
            raise OSError(f'browse-dataset: could not write {out_file}')
    print(f'browse-dataset: wrote {count} {args.mode} {args.phase} samples '
          f'to {args.output_dir}')
    return 0


def _browse_pipeline(dataset_cfg: Any, mode: str) -> dict:
    """The dataset config with the pipeline cut for browsing."""
    dataset_cfg = copy.deepcopy(dict(dataset_cfg))
    pipeline = list(dataset_cfg.get('pipeline') or [])

    def type_name(step: Any) -> str:
        name = step.get('type') if isinstance(step, dict) else None
        name = name if isinstance(name, str) else getattr(name, '__name__', '')
        return name.rsplit('.', 1)[-1]

    if mode == 'original':
        loads = [s for s in pipeline if type_name(s) == 'LoadImage']
        pipeline = loads[:1] or [dict(type='LoadImage')]
    else:
        pipeline = [s for s in pipeline if type_name(s) != 'PackPoseInputs']
    dataset_cfg['pipeline'] = pipeline
    return dataset_cfg


def _file_name(idx: int, img_path: str | None) -> str:
    # The index keeps names unique when one image holds several people.
    base = osp.basename(img_path) if img_path else 'sample.png'
    stem, ext = osp.splitext(base)
    return f'{idx:05d}_{stem}{ext if ext.lower() in IMAGE_EXTS else ".png"}'


def draw_pose(img: np.ndarray, keypoints: np.ndarray | None,
              keypoints_visible: np.ndarray | None, metainfo: dict,
              bboxes: np.ndarray | None = None) -> np.ndarray:
    """Draw boxes, skeleton links and keypoints on a copy of ``img``.

    Args:
        img (np.ndarray): ``(H, W, 3)`` BGR (or ``(H, W)`` gray), uint8 or
            float in 0..255.
        keypoints (np.ndarray, optional): ``(N, K, 2+)`` pixels of ``img``.
        keypoints_visible (np.ndarray, optional): ``(N, K)`` or
            ``(N, K, 2)``; keypoints with visibility <= 0.3 are not drawn.
        metainfo (dict): Parsed dataset meta: ``keypoint_colors`` (K, 3),
            ``skeleton_links`` (pairs of ids), ``skeleton_link_colors``.
        bboxes (np.ndarray, optional): ``(N, 4)`` xyxy pixels.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR picture.
    """
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    if canvas.ndim == 2 or canvas.shape[2] == 1:
        canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
    canvas = np.ascontiguousarray(canvas)
    size = max(canvas.shape[:2])
    radius = max(2, round(size / 160))
    thickness = max(1, round(size / 320))
    if bboxes is not None:
        for x1, y1, x2, y2 in np.asarray(bboxes, float).reshape(-1, 4)[:, :4]:
            cv2.rectangle(canvas, (round(x1), round(y1)), (round(x2), round(y2)),
                          (0, 255, 0), thickness)
    if keypoints is None or np.ndim(keypoints) != 3:
        return canvas
    keypoints = np.asarray(keypoints, float)
    visible = _visibility(keypoints_visible, keypoints.shape[:2])
    kpt_colors = _bgr(metainfo.get('keypoint_colors'), keypoints.shape[1])
    links = metainfo.get('skeleton_links') or []
    link_colors = _bgr(metainfo.get('skeleton_link_colors'), len(links))
    for points, vis in zip(keypoints, visible):
        for (a, b), color in zip(links, link_colors):
            if max(a, b) < len(points) and vis[a] > KPT_THR and vis[b] > KPT_THR:
                cv2.line(canvas, _pt(points[a]), _pt(points[b]), color,
                         thickness, cv2.LINE_AA)
        for point, v, color in zip(points, vis, kpt_colors):
            if v > KPT_THR:
                cv2.circle(canvas, _pt(point), radius, color, -1, cv2.LINE_AA)
    return canvas


def _visibility(keypoints_visible, shape) -> np.ndarray:
    if keypoints_visible is None:
        return np.ones(shape)
    visible = np.asarray(keypoints_visible, float)
    if visible.ndim == 3:
        visible = visible[..., 0]
    return visible.reshape(shape) if visible.size == shape[0] * shape[1] \
        else np.ones(shape)


def _bgr(colors, count: int) -> list[tuple[int, int, int]]:
    """Meta colors (triplets drawn as RGB, as MMPose shows them) -> BGR."""
    if colors is None or len(colors) == 0:
        return [(0, 128, 255)] * count
    colors = np.asarray(colors, int).reshape(-1, 3)
    return [tuple(int(c) for c in colors[i % len(colors)][::-1])
            for i in range(count)]


def _pt(point: np.ndarray) -> tuple[int, int]:
    return int(round(point[0])), int(round(point[1]))
