"""Encode speed of posekit's codecs, against MMPose 1.3.2 when importable.

Run by hand (not a test):

    PYTHONPATH=. python benchmarks/codecs.py [--repeat 2000]

For each codec it encodes seeded random keypoints of one 17-keypoint instance
(256x192 input, 64x48 heatmaps) and prints microseconds per sample; with
MMPose installed in the same interpreter it also prints MMPose's figure and
the speed-up (MMPose time / posekit time).
"""
import argparse
import time
import warnings

import numpy as np

from posekit.registry import KEYPOINT_CODECS

CODECS = [
    dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
         sigma=2),
    dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
         sigma=2, unbiased=True),
    dict(type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
         sigma=2),
    dict(type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
         heatmap_type='combined'),
    dict(type='MegviiHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
         kernel_size=11),
    dict(type='RegressionLabel', input_size=(192, 256)),
    dict(type='IntegralRegressionLabel', input_size=(192, 256),
         heatmap_size=(48, 64), sigma=2),
    dict(type='SimCCLabel', input_size=(192, 256), sigma=6.0,
         simcc_split_ratio=2.0),
]


def reference_registry():
    """MMPose's KEYPOINT_CODECS, or None if MMPose is not installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            import mmpose.codecs  # noqa: F401
            from mmpose.registry import KEYPOINT_CODECS as ref
        return ref
    except ImportError:
        return None


def time_encode(codec, samples, repeat: int) -> float:
    """Mean microseconds per encode call over ``repeat`` calls."""
    start = time.perf_counter()
    for i in range(repeat):
        kp, vis = samples[i % len(samples)]
        codec.encode(kp, vis)
    return (time.perf_counter() - start) / repeat * 1e6


def best_of(codecs, samples, repeat: int, rounds: int = 7) -> list:
    """Fastest round of each codec, rounds interleaved so that load from
    other processes hits both sides alike."""
    best = [float('inf')] * len(codecs)
    for _ in range(rounds):
        for i, codec in enumerate(codecs):
            best[i] = min(best[i], time_encode(codec, samples, repeat))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    samples = [((rng.random((1, 17, 2)) * [192, 256]).astype(np.float32),
                (rng.random((1, 17)) > 0.1).astype(np.float32))
               for _ in range(64)]
    ref = reference_registry()
    print(f'{"codec":<48} {"posekit us":>10} {"MMPose us":>10} '
          f'{"speed-up":>9}')
    for cfg in CODECS:
        label = ', '.join(f'{k}={v}' for k, v in cfg.items()
                          if k in ('type', 'unbiased', 'heatmap_type'))
        codecs = [KEYPOINT_CODECS.build(cfg)]
        if ref is not None:
            codecs.append(ref.build(dict(cfg)))
        times = best_of(codecs, samples, args.repeat)
        ours = times[0]
        if ref is None:
            print(f'{label:<48} {ours:10.1f} {"-":>10} {"-":>9}')
            continue
        theirs = times[1]
        print(f'{label:<48} {ours:10.1f} {theirs:10.1f} '
              f'{theirs / ours:8.2f}x')


if __name__ == '__main__':
    main()
