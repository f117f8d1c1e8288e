"""``posekit generate-bbox-file DET_CONFIG DET_WEIGHTS OUT.json``: person boxes
of a test set, for top-down evaluation with detected boxes (MMPose's
``tools/misc/generate_bbox_file.py``).

The images are those of ``--pose-config``'s test (else val) dataset; the
detector (an RTMDet / YOLOX config, a detector name such as ``human``, or a
one-stage pose config) runs on each; boxes of ``--det-cat-ids`` (default 0,
person) scoring above ``--score-thr`` survive NMS at ``--nms-thr``. OUT.json
is COCO's detection-results format (``image_id``, ``category_id`` 1,
``bbox`` xywh, ``score``), what a config's ``bbox_file`` reads. MMPose's
tool keeps every class of the detector under category 1; here only the
asked ones are kept.
"""
from __future__ import annotations

import argparse
import copy

from posekit.commands.print_config import add_cfg_options

DEFAULT_POSE_CONFIG = ('configs/body_2d_keypoint/topdown_heatmap/coco/'
                       'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('det_config', help='detector config (.py) or name (e.g. human)')
    parser.add_argument('det_weights', help='detector checkpoint (.pth) or .onnx file; '
                                            '"none" for a name\'s own weights')
    parser.add_argument('output', help='the boxes (.json)')
    parser.add_argument('--pose-config', default=DEFAULT_POSE_CONFIG,
                        help='config whose test dataset lists the images')
    parser.add_argument('--score-thr', type=float, default=0.1,
                        help='keep boxes scoring above this (default 0.1)')
    parser.add_argument('--nms-thr', type=float, default=0.65,
                        help='box NMS IoU threshold (default 0.65; 1 turns NMS off)')
    parser.add_argument('--det-cat-ids', type=int, nargs='+', default=[0],
                        help='detector categories kept (default: 0, person)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    add_cfg_options(parser)


def run(args: argparse.Namespace) -> int:
    from posekit.apis.boxes import detect, select_boxes
    from posekit.apis.model_detector import load_detector
    from posekit.config import Config, parse_cfg_options
    from posekit.datasets.transforms.loading import read_image
    from posekit.fileio import write_json
    from posekit.models.builder import test_dataset_cfg
    from posekit.registry import DATASETS
    if not args.output.endswith('.json'):
        raise ValueError(f'{args.output}: use a .json file')
    cfg = Config.fromfile(args.pose_config, cfg_options=parse_cfg_options(args.cfg_options))
    dataset_cfg = test_dataset_cfg(cfg)
    if dataset_cfg is None:
        raise ValueError(f'{args.pose_config}: no test_dataloader.dataset (nor val) with a '
                         'pipeline to list the images')
    # every image once, whatever boxes the config reads
    dataset_cfg = dict(copy.deepcopy(dataset_cfg.to_dict() if hasattr(dataset_cfg, 'to_dict')
                                     else dataset_cfg), data_mode='bottomup', bbox_file=None,
                       pipeline=[], test_mode=True)
    dataset = DATASETS.build(dataset_cfg)
    weights = None if args.det_weights.lower() == 'none' else args.det_weights
    detector = load_detector(args.det_config, weights, args.device)
    boxes = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        rows = select_boxes(detect(detector, read_image(info['img_path']), info['img_path']),
                            args.score_thr, args.nms_thr, args.det_cat_ids)
        boxes += [dict(image_id=int(info['img_id']), category_id=1, score=float(r[4]),
                       bbox=[float(r[0]), float(r[1]), float(r[2] - r[0]), float(r[3] - r[1])])
                  for r in rows]
    write_json(args.output, boxes, indent=0)
    print(f'{args.output}: {len(boxes)} boxes in {len(dataset)} images')
    return 0
