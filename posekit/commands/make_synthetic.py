"""``posekit make-synthetic OUT_DIR``: write the synthetic COCO keypoint dataset.

The layout and annotation conventions are documented in
``posekit.datasets.synthetic``.
"""
from __future__ import annotations

import argparse
import sys
import time

from posekit.datasets.synthetic import DEFAULT_IMAGE_SIZE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('out_dir', metavar='OUT_DIR',
                        help='dataset root: images/{train,val}/ and annotations/{train,val}.json')
    parser.add_argument('--num-images', type=int, default=500, metavar='N',
                        help='images over both splits (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, metavar='S',
                        help='the same seed writes the same bytes (default: %(default)s)')
    parser.add_argument('--val-fraction', type=float, default=0.2, metavar='F',
                        help='share of images in the val split (default: %(default)s)')
    parser.add_argument('--image-size', type=int, nargs=2, default=list(DEFAULT_IMAGE_SIZE),
                        metavar=('W', 'H'), help='image width and height in pixels '
                        '(default: %(default)s)')


def run(args: argparse.Namespace) -> int:
    from posekit.datasets.synthetic import make_synthetic_coco
    start = time.perf_counter()
    try:
        res = make_synthetic_coco(args.out_dir, num_images=args.num_images, seed=args.seed,
                                  val_fraction=args.val_fraction,
                                  image_size=tuple(args.image_size))
    except ValueError as e:
        print(f'posekit make-synthetic: error: {e}', file=sys.stderr)
        return 2
    w, h = res['image_size']
    print(f"wrote {res['out_dir']} ({w}x{h}, {time.perf_counter() - start:.1f} s)")
    for split in ('train', 'val'):
        s = res[split]
        print(f"  {split}: {s['num_images']} images, {s['num_annotations']} figures, "
              f"{s['ann_file']}")
    return 0
