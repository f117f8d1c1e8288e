"""``posekit infer INPUTS --pose2d CONFIG --pose2d-weights CKPT``: run a model.

INPUTS are image files, folders, glob patterns (quote them) or video files.
Drawn pictures go to ``--vis-out-dir`` (a video becomes an mp4), predictions
to ``--pred-out-dir`` as JSON; see :mod:`posekit.apis.inferencer`. Inputs
that cannot be read are skipped, named, and make the exit status 1.

A top-down model takes its person boxes from ``--bboxes``, from
``--det-model`` (the config of a one-stage pose model such as RTMO, with
``--det-weights``; or a Python detector function), or else the whole image.
"""
from __future__ import annotations

import argparse
import sys

from posekit.commands.print_config import add_cfg_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('inputs', nargs='+',
                        help='images, folders, glob patterns or videos')
    parser.add_argument('--pose2d', required=True, help='model config file (.py)')
    parser.add_argument('--pose2d-weights', help='checkpoint (.pth), or the .onnx file '
                        'with --backend onnxruntime')
    parser.add_argument('--backend', default='pytorch', choices=('pytorch', 'onnxruntime'))
    parser.add_argument('--device', help='cpu, cuda or cuda:N (default: cuda if available)')
    parser.add_argument('--threads', type=int, help='CPU threads for the network')
    parser.add_argument('--bboxes', help='COCO-format JSON of person boxes (detection '
                        'results, or an annotation file); default: the whole image')
    parser.add_argument('--det-model', help='person detector of a top-down model: '
                        'the config (.py) of a one-stage pose model (RTMO, YOLOX-Pose), '
                        "or 'package.module:function' (BGR image -> (N, 4|5|6) xyxy "
                        'boxes [, score, category])')
    parser.add_argument('--det-weights', help='checkpoint (.pth, or .onnx) of the '
                        '--det-model config')
    parser.add_argument('--det-cat-ids', type=int, nargs='+',
                        help='keep boxes of these category ids only (a one-stage '
                        "detector's people are 0)")
    parser.add_argument('--bbox-thr', type=float, help='drop boxes scoring at most this '
                        "(default 0.3; a one-stage --pose2d model: its config's score_thr)")
    parser.add_argument('--nms-thr', type=float, help='box NMS IoU threshold; 1 turns NMS '
                        "off (default 0.3; a one-stage --pose2d model: its config's nms_thr)")
    parser.add_argument('--vis-out-dir', default='', help='write drawn pictures here')
    parser.add_argument('--pred-out-dir', default='', help='write JSON predictions here')
    parser.add_argument('--show', action='store_true', help='show pictures in a window')
    parser.add_argument('--draw-bbox', action='store_true', help='draw the boxes')
    parser.add_argument('--draw-heatmap', action='store_true',
                        help='draw the predicted heatmaps below the picture')
    parser.add_argument('--kpt-thr', type=float, default=0.3,
                        help='draw keypoints scoring above this (default 0.3)')
    parser.add_argument('--radius', type=int, default=3, help='keypoint radius (pixels)')
    parser.add_argument('--thickness', type=int, default=1, help='link thickness (pixels)')
    parser.add_argument('--black-background', action='store_true',
                        help='draw on black instead of the image')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_cfg_options(parser)


def run(args: argparse.Namespace) -> int:
    from posekit.apis import PoseInferencer
    from posekit.config import parse_cfg_options
    if not (args.vis_out_dir or args.pred_out_dir or args.show):
        print('posekit infer: nothing to write: give --vis-out-dir, --pred-out-dir '
              'or --show', file=sys.stderr)
        return 2
    inferencer = PoseInferencer(
        args.pose2d, args.pose2d_weights, device=args.device, backend=args.backend,
        det_model=args.det_model, det_weights=args.det_weights,
        det_cat_ids=args.det_cat_ids,
        show_progress=not args.no_progress, cfg_options=parse_cfg_options(args.cfg_options) or None,
        num_threads=args.threads)
    frames = instances = 0
    for result in inferencer(
            args.inputs, bboxes=args.bboxes, bbox_thr=args.bbox_thr, nms_thr=args.nms_thr,
            vis_out_dir=args.vis_out_dir, pred_out_dir=args.pred_out_dir, show=args.show,
            draw_bbox=args.draw_bbox, draw_heatmap=args.draw_heatmap, radius=args.radius,
            thickness=args.thickness, kpt_thr=args.kpt_thr,
            black_background=args.black_background):
        frames += 1
        instances += len(result['predictions'])
    print(f'{frames} frame(s), {instances} instance(s)')
    for name, path in (('pictures', args.vis_out_dir), ('predictions', args.pred_out_dir)):
        if path:
            print(f'{name} written to {path}')
    if inferencer.skipped:  # each was named in a warning, and summed up
        print(f'posekit infer: {len(inferencer.skipped)} input(s) could not be read '
              '(named above); the others ran', file=sys.stderr)
        return 1
    return 0
