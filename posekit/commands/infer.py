"""``posekit infer INPUTS --pose2d CONFIG --pose2d-weights CKPT``: run a model.

INPUTS are image files, folders, glob patterns (quote them) or video files.
Drawn pictures go to ``--vis-out-dir`` (a video becomes an mp4), predictions
to ``--pred-out-dir`` as JSON; see :mod:`posekit.apis.inferencer`. Inputs
that cannot be read are skipped, named, and make the exit status 1.

A top-down model takes its person boxes from ``--bboxes``, from
``--det-model`` (an RTMDet / YOLOX detector config or name, such as
``human`` or ``rtmdet_m_640-8xb32_coco-person``; the config of a one-stage
pose model such as RTMO, with ``--det-weights``; or a Python detector
function), or else the whole image. A zoo model (``--pose2d human``) given
none of these uses the detector MMPose's model index pairs it with.

With ``--pose3d LIFTER_CONFIG`` the 2D poses are tracked and lifted to 3D
(a ``PoseLifter`` such as VideoPose3D's TCN; see
:mod:`posekit.apis.pose3d_inferencer`): the JSON holds 3D keypoints per
person and frame, the pictures the 2D detection beside the 3D skeletons.
"""
from __future__ import annotations

import argparse
import sys

from posekit.commands.print_config import add_cfg_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('inputs', nargs='+',
                        help='images, folders, glob patterns or videos')
    parser.add_argument('--pose2d', required=True,
                        help="model config file (.py), or a zoo model's name or alias "
                             "('human'; see posekit models)")
    parser.add_argument('--pose2d-weights', help='checkpoint (.pth), or the .onnx file '
                        'with --backend onnxruntime')
    parser.add_argument('--backend', default='pytorch', choices=('pytorch', 'onnxruntime'),
                        help='onnxruntime: the network in ONNX Runtime (fp32 1.5-1.7x '
                             'faster on CPUs); a checkpoint is exported once, then cached')
    parser.add_argument('--device', help='cpu, cuda or cuda:N (default: cuda if available)')
    parser.add_argument('--threads', type=int, help='CPU threads for the network')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the network (needs a C++ compiler; '
                             'each batch-size bucket compiles once, seconds to a minute)')
    parser.add_argument('--precision', default='fp32', choices=('fp32', 'bf16', 'int8'),
                        help='network precision: fp32 (BatchNorms folded), or bf16 '
                             '(autocast; fast on CPUs with AVX512-BF16/AMX, else fp32); '
                             'int8: --backend onnxruntime with a file of posekit export '
                             '--quantize int8')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='frames whose boxes a top-down model runs as one network '
                        'batch (default 1; bottom-up models: always 1)')
    parser.add_argument('--bboxes', help='COCO-format JSON of person boxes (detection '
                        'results, or an annotation file); default: the whole image')
    parser.add_argument('--det-model', help='person detector of a top-down model: '
                        'an RTMDet/YOLOX config (.py) or name (human, face, hand, or a '
                        'configs/mmdetection_cfg/ file stem), the config (.py) of a '
                        "one-stage pose model (RTMO, YOLOX-Pose), or 'package.module:"
                        "function' (BGR image -> (N, 4|5|6) xyxy boxes [, score, "
                        "category]); default for a zoo --pose2d: the zoo's detector")
    parser.add_argument('--det-weights', help='checkpoint (.pth, or .onnx) of the '
                        '--det-model config (a named detector: default its weights URL)')
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
    parser.add_argument('--skeleton-style', default='mmpose', choices=('mmpose', 'openpose'),
                        help="openpose: COCO (-WholeBody) keypoints drawn as OpenPose's, "
                             'with a neck and ellipse limbs')
    parser.add_argument('--black-background', action='store_true',
                        help='draw on black instead of the image')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    lift = parser.add_argument_group('3D lifting (with --pose3d)')
    lift.add_argument('--pose3d', help='pose lifter config file (.py) or zoo name (human3d): '
                      'lift the 2D poses of each video to 3D')
    lift.add_argument('--pose3d-weights', help='pose lifter checkpoint (.pth)')
    lift.add_argument('--use-oks-tracking', action='store_true',
                      help='track people by keypoint OKS (default: box IoU)')
    lift.add_argument('--tracking-thr', type=float,
                      help='tracking match threshold (default 0.3)')
    lift.add_argument('--norm-pose-2d', action='store_true', help="move each 2D pose "
                      "with its box to the dataset's mean box before lifting")
    lift.add_argument('--disable-rebase-keypoint', action='store_true',
                      help="keep the lifter's heights (default: lowest joint at z = 0)")
    lift.add_argument('--num-instances', type=int,
                      help='3D skeletons drawn per frame; < 0: all (default 1)')
    add_cfg_options(parser)


_LIFT_OPTIONS = ('pose3d_weights', 'use_oks_tracking', 'tracking_thr', 'norm_pose_2d',
                 'disable_rebase_keypoint', 'num_instances')


def run(args: argparse.Namespace) -> int:
    from posekit.apis import PoseInferencer
    from posekit.config import parse_cfg_options
    if not (args.vis_out_dir or args.pred_out_dir or args.show):
        print('posekit infer: nothing to write: give --vis-out-dir, --pred-out-dir '
              'or --show', file=sys.stderr)
        return 2
    if args.pose3d:
        return _run_3d(args)
    given = [name for name in _LIFT_OPTIONS if getattr(args, name) not in (None, False)]
    if given:
        print(f"posekit infer: --{given[0].replace('_', '-')} needs --pose3d",
              file=sys.stderr)
        return 2
    inferencer = PoseInferencer(
        args.pose2d, args.pose2d_weights, device=args.device, backend=args.backend,
        det_model=args.det_model, det_weights=args.det_weights,
        det_cat_ids=args.det_cat_ids,
        show_progress=not args.no_progress, cfg_options=parse_cfg_options(args.cfg_options) or None,
        num_threads=args.threads, precision=args.precision, batch_size=args.batch_size,
        compile=args.compile)
    return _report(args, inferencer, inferencer(
        args.inputs, bboxes=args.bboxes, bbox_thr=args.bbox_thr, nms_thr=args.nms_thr,
        vis_out_dir=args.vis_out_dir, pred_out_dir=args.pred_out_dir, show=args.show,
        draw_bbox=args.draw_bbox, draw_heatmap=args.draw_heatmap, radius=args.radius,
        thickness=args.thickness, kpt_thr=args.kpt_thr, skeleton_style=args.skeleton_style,
        black_background=args.black_background))


def _run_3d(args: argparse.Namespace) -> int:
    from posekit.apis.pose3d_inferencer import Pose3DInferencer
    from posekit.config import parse_cfg_options
    for flag, name, why in ((args.draw_heatmap, '--draw-heatmap', 'pictures'),
                            (args.black_background, '--black-background', 'pictures'),
                            (args.skeleton_style != 'mmpose', '--skeleton-style', 'pictures'),
                            (args.batch_size != 1, '--batch-size', 'runs (one frame at '
                             'a time)')):
        if flag:
            print(f'posekit infer: {name} does not apply to --pose3d {why}',
                  file=sys.stderr)
            return 2
    inferencer = Pose3DInferencer(
        args.pose3d, args.pose3d_weights, pose2d=args.pose2d,
        pose2d_weights=args.pose2d_weights, device=args.device, backend=args.backend,
        det_model=args.det_model, det_weights=args.det_weights,
        det_cat_ids=args.det_cat_ids, cfg_options=parse_cfg_options(args.cfg_options) or None,
        num_threads=args.threads, precision=args.precision)
    return _report(args, inferencer, inferencer(
        args.inputs, bboxes=args.bboxes, bbox_thr=args.bbox_thr, nms_thr=args.nms_thr,
        use_oks_tracking=args.use_oks_tracking,
        tracking_thr=0.3 if args.tracking_thr is None else args.tracking_thr,
        norm_pose_2d=args.norm_pose_2d, disable_rebase_keypoint=args.disable_rebase_keypoint,
        vis_out_dir=args.vis_out_dir, pred_out_dir=args.pred_out_dir, show=args.show,
        draw_bbox=args.draw_bbox, radius=args.radius, thickness=args.thickness,
        kpt_thr=args.kpt_thr,
        num_instances=1 if args.num_instances is None else args.num_instances))


def _report(args: argparse.Namespace, inferencer, results) -> int:
    """Run ``results`` through, print what was done; 1 when inputs were skipped."""
    frames = instances = 0
    for result in results:
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
