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

import numpy as np

from posekit.commands.print_config import add_cfg_options
from posekit.config import Config, ConfigError, parse_cfg_options
from posekit.fileio import write_image
from posekit.visualization.draw import draw_pose as draw_rgb_pose

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
    dataset = DATASETS.build(dataset_cfg, path=f'{loader_key}.dataset')
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
        write_image(out_file, picture)
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
    """Draw boxes, skeleton links and keypoints on a copy of a BGR ``img``.

    :func:`posekit.visualization.draw_pose` on the RGB image (the colours
    are RGB triples as MMPose shows them), converted back to BGR.

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
    rgb = canvas if canvas.ndim == 2 or canvas.shape[2] == 1 else canvas[..., ::-1]
    if keypoints is not None and np.ndim(keypoints) != 3:
        keypoints = None
    picture = draw_rgb_pose(rgb, keypoints, keypoints_visible, metainfo, KPT_THR,
                            bboxes=bboxes)
    return np.ascontiguousarray(picture[..., ::-1])
