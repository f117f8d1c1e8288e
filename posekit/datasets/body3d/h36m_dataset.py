"""``Human36mDataset``: Human3.6M videos for 2D-to-3D pose lifting.

Frames are grouped into videos by their image name
``S1_Directions_1.54138969_000001.jpg`` -> (subject ``S1``, action
``Directions_1``, camera ``54138969``); videos are visited in sorted order of
that triple and frames in file order, as MMPose 1.3.2 does, so sample ``i``
is the same sequence as there. Keypoint order: MMPose's ``h36m.py`` (0 pelvis,
1-3 right leg, 4-6 left leg, 7 spine, 8 thorax, 9 neck, 10 head, 11-13 left
arm, 14-16 right arm).
"""
from __future__ import annotations

import os.path as osp
import warnings
from collections import defaultdict
from typing import Callable, Mapping, Sequence

import numpy as np

from posekit.registry import DATASETS

from ..base_dataset import check_file
from ..base_mocap_dataset import BaseMocapDataset, join_root

KEYPOINT_2D_SOURCES = ('gt', 'detection', 'pipeline')


def parse_h36m_imgname(imgname: str) -> tuple[str, str, str]:
    """(subject, action, camera) of ``[dirs/]S1_Directions_1.54138969_000001.jpg``."""
    subj, rest = osp.basename(str(imgname)).split('_', 1)
    action, rest = rest.split('.', 1)
    camera = rest.split('_', 1)[0]
    return subj, action, camera


def padded_sequences(frames: list[int], seq_len: int, step: int,
                     causal: bool) -> list[list[int]]:
    """One sequence per frame of a video, padded at the video's ends.

    Frame ``i`` is the last (``causal``) or middle element of its sequence,
    the others ``step`` frames apart; positions before the first / after the
    last frame of the video repeat ``frames[0]`` / ``frames[-1]``.
    """
    left = seq_len - 1 if causal else (seq_len - 1) // 2
    right = 0 if causal else left
    n, out = len(frames), []
    for i in range(n):
        pad_left = max(0, left - i // step)
        pad_right = max(0, right - (n - 1 - i) // step)
        # first/last frame reachable from i in whole steps, inside the video
        start = max(i % step, i - left * step)
        end = min(n - (n - 1 - i) % step, i + right * step + 1)
        out.append([frames[0]] * pad_left + frames[start:end:step] + [frames[-1]] * pad_right)
    return out


@DATASETS.register_module()
class Human36mDataset(BaseMocapDataset):
    """Human3.6M (Ionescu et al., TPAMI 2014), 17 keypoints in 3D.

    Args:
        ann_file (str): The ``.npz`` (see :mod:`posekit.datasets.base_mocap_dataset`).
        seq_len (int): Frames per sample.
        seq_step (int): Frame interval inside a sample. With
            ``multiple_target`` it must be 1 (MMPose fails otherwise).
        multiple_target (int): When > 0, samples of ``multiple_target``
            frames (all targets) starting every ``multiple_target_step``
            frames; videos shorter than that give no sample.
        multiple_target_step (int): Start interval of those samples; 0 means
            ``multiple_target``.
        pad_video_seq (bool): One sample per frame, padded at the video ends
            (see :func:`padded_sequences`); otherwise only the full windows
            inside each video, and a video shorter than
            ``(seq_len - 1) * seq_step + 1`` frames gives none (warned).
        causal (bool): Target = last frame (True) or middle frame (False).
        subset_frac (float): Keep a random contiguous fraction of the samples.
        keypoint_2d_src (str): ``'gt'`` (``part`` of the file), ``'detection'``
            (``keypoint_2d_det_file``) or ``'pipeline'`` (the pipeline makes
            them; the data info still holds the file's).
        keypoint_2d_det_file (str, optional): ``.npy`` (F, K, 3) float
            ``(x, y, score)`` per frame of ``ann_file``, relative to
            ``data_root`` unless absolute.
        factor_file (str, optional): ``.npy`` (F,) projection factors per
            frame; zeros when not given.
        camera_param_file (str, optional): Pickle of ``{(subject, camera):
            dict(R, T, c, f, k, p, w, h, name, id)}``.
        data_mode, metainfo, data_root, data_prefix, filter_cfg, indices,
        serialize_data, pipeline, test_mode, lazy_init, max_refetch: see
            :class:`BaseMocapDataset`.

    Raises:
        ValueError: An unknown ``keypoint_2d_src``; ``'detection'`` without
            a file; a detection or factor array whose shape does not match
            the annotation file.
        FileNotFoundError: A named file is missing.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/h36m.py')
    SUPPORTED_keypoint_2d_src = set(KEYPOINT_2D_SOURCES)

    def __init__(self,
                 ann_file: str = '',
                 seq_len: int = 1,
                 seq_step: int = 1,
                 multiple_target: int = 0,
                 multiple_target_step: int = 0,
                 pad_video_seq: bool = False,
                 causal: bool = True,
                 subset_frac: float = 1.0,
                 keypoint_2d_src: str = 'gt',
                 keypoint_2d_det_file: str | None = None,
                 factor_file: str | None = None,
                 camera_param_file: str | None = None,
                 data_mode: str = 'topdown',
                 metainfo: Mapping | None = None,
                 data_root: str | None = None,
                 data_prefix: Mapping | None = None,
                 filter_cfg: Mapping | None = None,
                 indices: int | Sequence[int] | None = None,
                 serialize_data: bool = True,
                 pipeline: Sequence[Mapping | Callable] = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000):
        name = type(self).__name__
        if keypoint_2d_src not in KEYPOINT_2D_SOURCES:
            raise ValueError(f'{name}: keypoint_2d_src must be one of '
                             f'{KEYPOINT_2D_SOURCES}, got {keypoint_2d_src!r}')
        if keypoint_2d_src == 'detection' and not keypoint_2d_det_file:
            raise ValueError(f'{name}: keypoint_2d_src="detection" needs '
                             'keypoint_2d_det_file')
        if keypoint_2d_det_file and keypoint_2d_src != 'detection':
            warnings.warn(f'{name}: keypoint_2d_det_file is only read with '
                          f'keypoint_2d_src="detection" (got {keypoint_2d_src!r})')
        if not (isinstance(seq_step, int) and seq_step >= 1):
            raise ValueError(f'{name}: seq_step must be an int >= 1, got {seq_step!r}')
        if multiple_target and seq_step != 1:
            raise ValueError(f'{name}: multiple_target needs seq_step=1, got {seq_step}')
        if multiple_target_step < 0 or (multiple_target_step and not multiple_target):
            raise ValueError(f'{name}: multiple_target_step={multiple_target_step!r} '
                             'needs multiple_target > 0 and must be >= 0')
        if multiple_target and pad_video_seq:
            warnings.warn(f'{name}: pad_video_seq has no effect with multiple_target')
        self.keypoint_2d_src = keypoint_2d_src
        self.keypoint_2d_det_file = join_root(keypoint_2d_det_file, data_root)
        if self.keypoint_2d_det_file:
            check_file(self.keypoint_2d_det_file, 'keypoint_2d_det_file', name)
        self.factor_file = join_root(factor_file, data_root)
        if self.factor_file:
            check_file(self.factor_file, 'factor_file', name)
        self.seq_step = seq_step
        self.pad_video_seq = pad_video_seq
        self.multiple_target_step = multiple_target_step or multiple_target
        super().__init__(
            ann_file=ann_file, seq_len=seq_len, multiple_target=multiple_target,
            causal=causal, subset_frac=subset_frac,
            camera_param_file=camera_param_file, data_mode=data_mode,
            metainfo=metainfo, data_root=data_root, data_prefix=data_prefix,
            filter_cfg=filter_cfg, indices=indices, serialize_data=serialize_data,
            pipeline=pipeline, test_mode=test_mode, lazy_init=lazy_init,
            max_refetch=max_refetch)

    # ------------------------------------------------------------ sequences
    @staticmethod
    def _parse_h36m_imgname(imgname: str) -> tuple[str, str, str]:
        return parse_h36m_imgname(imgname)

    def get_sequence_indices(self, ann: Mapping[str, np.ndarray]) -> list[list[int]]:
        """Split each video into samples (see the class docstring)."""
        videos: dict[tuple, list[int]] = defaultdict(list)
        for idx, imgname in enumerate(ann['imgname']):
            videos[parse_h36m_imgname(imgname)].append(idx)
        sequences, too_short = [], []
        for key, frames in sorted(videos.items()):
            seqs = self._video_sequences(frames)
            if not seqs:
                too_short.append('_'.join(key))
            sequences.extend(seqs)
        if not sequences and videos:
            longest = max(len(frames) for frames in videos.values())
            raise ValueError(
                f'{type(self).__name__}: no sample in {self.ann_file}: a sample needs '
                f'{self._frames_per_sample()} consecutive frames of one video '
                f'(seq_len={self.seq_len}, seq_step={self.seq_step}, '
                f'multiple_target={self.multiple_target}) and the longest of its '
                f'{len(videos)} video(s) has {longest}'
                + ('' if self.multiple_target else '; set pad_video_seq=True to pad'))
        if too_short and sequences:
            warnings.warn(f'{type(self).__name__}: {len(too_short)} video(s) of '
                          f'{self.ann_file} are shorter than one sample and give '
                          f'none (e.g. {too_short[0]}); set pad_video_seq=True to keep them')
        return sequences

    def _frames_per_sample(self) -> int:
        """Video frames one sample spans (without padding)."""
        return self.multiple_target or (self.seq_len - 1) * self.seq_step + 1

    def _video_sequences(self, frames: list[int]) -> list[list[int]]:
        n, step = len(frames), self.seq_step
        if self.multiple_target:
            size, stride = self.multiple_target, self.multiple_target_step
            return [frames[i:i + size] for i in range(0, n - size + 1, stride)]
        if self.pad_video_seq:
            return padded_sequences(frames, self.seq_len, step, self.causal)
        span = self._frames_per_sample()
        return [frames[i:i + span:step] for i in range(n - span + 1)]

    # ------------------------------------------------------------ loading
    def load_instances(self, ann: Mapping[str, np.ndarray]) -> list[dict]:
        instances = super().load_instances(ann)
        num_frames = len(ann['imgname'])
        if self.keypoint_2d_src == 'detection':
            det = self._load_detections(num_frames)
            for info, frame_ids in zip(instances, self.sequence_indices):
                kpts = det[frame_ids]
                info.update(keypoints=kpts[..., :2], keypoints_visible=kpts[..., 2])
        factors = self._load_factors(num_frames)
        for info, frame_ids in zip(instances, self.sequence_indices):
            info['factor'] = factors[frame_ids]
        return instances

    def _load_detections(self, num_frames: int) -> np.ndarray:
        """``keypoint_2d_det_file`` as (F, K, 3) float32, shape checked."""
        try:
            det = np.asarray(np.load(self.keypoint_2d_det_file), dtype=np.float32)
        except (OSError, ValueError) as e:
            raise ValueError(f'{type(self).__name__}: cannot read keypoint_2d_det_file '
                             f'{self.keypoint_2d_det_file} as a .npy array: {e}') from e
        expected = (num_frames, self._metainfo['num_keypoints'], 3)
        if det.shape != expected:
            raise ValueError(
                f'{type(self).__name__}: keypoint_2d_det_file '
                f'{self.keypoint_2d_det_file} has shape {det.shape}, expected '
                f'{expected} (frames of {self.ann_file}, keypoints, (x, y, score))')
        return det

    def _load_factors(self, num_frames: int) -> np.ndarray:
        if not self.factor_file:
            return np.zeros(num_frames, dtype=np.float32)
        factors = np.load(self.factor_file).astype(np.float32)
        if factors.shape[:1] != (num_frames,):
            raise ValueError(f'{type(self).__name__}: factor_file {self.factor_file} '
                             f'has shape {factors.shape}, expected ({num_frames},) '
                             f'(one per frame of {self.ann_file})')
        return factors

    def get_camera_param(self, imgname: str) -> dict:
        """``camera_param[(subject, camera)]`` of the frame ``imgname``."""
        subj, _, camera = parse_h36m_imgname(imgname)
        try:
            return self.camera_param[(subj, camera)]
        except KeyError:
            raise KeyError(f'{type(self).__name__}: camera_param_file '
                           f'{self.camera_param_file} has no entry {(subj, camera)!r} '
                           f'for frame {imgname}') from None
