"""``posekit make-synthetic OUT_DIR``: write the synthetic COCO keypoint dataset,
or with ``--mocap`` the synthetic motion-capture (2D-to-3D lifting) dataset.

The layouts and conventions are documented in ``posekit.datasets.synthetic``
and ``posekit.datasets.synthetic_mocap``.
"""
from __future__ import annotations

import argparse
import sys
import time

from posekit.datasets.synthetic import DEFAULT_IMAGE_SIZE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('out_dir', metavar='OUT_DIR',
                        help='dataset root: images/{train,val}/ and annotations/{train,val}.json; '
                        'with --mocap annotation_body3d/cameras.pkl and '
                        'annotation_body3d/fps50/h36m_{train,test}.npz')
    parser.add_argument('--mocap', action='store_true',
                        help='write the motion-capture dataset instead, in Human3.6M\'s '
                        'layout (2D keypoints, 3D joints in metres, cameras; no images): '
                        'subjects S1 S5 S6 S7 S8 train, S9 S11 val (h36m_test.npz)')
    parser.add_argument('--num-videos', type=int, default=None, metavar='N',
                        help='--mocap: videos per subject, each seen by 4 cameras '
                        '(default: 10)')
    parser.add_argument('--num-frames', type=int, default=None, metavar='N',
                        help='--mocap: frames per video at 50 fps (default: 150)')
    parser.add_argument('--num-images', type=int, default=None, metavar='N',
                        help='images over both splits (default: 500)')
    parser.add_argument('--seed', type=int, default=0, metavar='S',
                        help='the same seed writes the same bytes (default: %(default)s)')
    parser.add_argument('--val-fraction', type=float, default=None, metavar='F',
                        help='share of images in the val split (default: 0.2)')
    parser.add_argument('--image-size', type=int, nargs=2, default=None,
                        metavar=('W', 'H'), help='image width and height in pixels '
                        f'(default: {list(DEFAULT_IMAGE_SIZE)})')


_IMAGE_OPTIONS = ('num_images', 'val_fraction', 'image_size')
_MOCAP_OPTIONS = ('num_videos', 'num_frames')


def _misplaced_options(args: argparse.Namespace) -> list[str]:
    """Options given that the chosen dataset (image or --mocap) does not read."""
    unused = _IMAGE_OPTIONS if args.mocap else _MOCAP_OPTIONS
    return ['--' + name.replace('_', '-') for name in unused
            if getattr(args, name) is not None]


def run(args: argparse.Namespace) -> int:
    misplaced = _misplaced_options(args)
    if misplaced:
        need = 'without' if args.mocap else 'with'
        print(f'posekit make-synthetic: error: {", ".join(misplaced)} only apply '
              f'{need} --mocap', file=sys.stderr)
        return 2
    if args.mocap:
        return _run_mocap(args)
    from posekit.datasets.synthetic import make_synthetic_coco
    start = time.perf_counter()
    try:
        res = make_synthetic_coco(
            args.out_dir, num_images=500 if args.num_images is None else args.num_images,
            seed=args.seed, val_fraction=0.2 if args.val_fraction is None else args.val_fraction,
            image_size=tuple(args.image_size or DEFAULT_IMAGE_SIZE))
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


def _run_mocap(args: argparse.Namespace) -> int:
    from posekit.datasets.synthetic_mocap import make_synthetic_mocap
    start = time.perf_counter()
    try:
        res = make_synthetic_mocap(args.out_dir, seed=args.seed,
                                   num_videos=10 if args.num_videos is None else args.num_videos,
                                   num_frames=150 if args.num_frames is None else args.num_frames)
    except ValueError as e:
        print(f'posekit make-synthetic: error: {e}', file=sys.stderr)
        return 2
    print(f"wrote {res['out_dir']} (mocap, {time.perf_counter() - start:.1f} s), "
          f"cameras {res['camera_file']}")
    for split in ('train', 'val'):
        s = res[split]
        print(f"  {split}: {s['num_frames']} frames of {' '.join(s['subjects'])}, "
              f"{s['ann_file']}")
    return 0
