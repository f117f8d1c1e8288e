"""``PoseTrack18VideoDataset``: PoseTrack18 samples with adjacent video frames.

Each sample is one annotated (centre) frame plus supporting frames of the
same video, for models that aggregate features over time (PoseWarper).
``img_path`` is a list of paths: the centre frame first, then one path per
sampled offset, in the order of the offsets. A supporting frame's file name
is its index, zero-padded to ``ph_fill_len`` digits, plus ``.jpg``, in the
centre frame's folder; its index is ``centre + offset`` clipped to
``[0, nframes - 1]``. In test mode the offset 0 is skipped (the centre frame
is already first); in training it is kept, so the centre frame can appear
twice (as in MMPose).

Conventions of boxes and keypoints: see :mod:`posekit.datasets.base_coco_style`.
``img_id`` is the image's ``frame_id`` (MMPose's choice).
"""
from __future__ import annotations

import os.path as osp
from typing import Callable, Mapping, Sequence

import numpy as np

from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset
from ..base_dataset import check_file, load_json


@DATASETS.register_module()
class PoseTrack18VideoDataset(BaseCocoStyleDataset):
    """PoseTrack18 (17 keypoints, CVPR 2018) with frame windows.

    Args:
        ann_file (str): COCO-style PoseTrack18 json; images need
            ``frame_id``, ``nframes`` and a ``file_name`` ending in the
            zero-padded frame index (``.../000012.jpg``).
        bbox_file (str, optional): Person detections (test mode, top-down),
            each with ``bbox`` (xywh), ``score``, ``category_id`` and either
            ``image_id`` or ``image_name`` (a ``file_name`` of ``ann_file``);
            an optional ``nframes`` overrides the image's.
        frame_weights (Sequence[float]): Weight of each frame for
            aggregation: centre frame first, then the offsets in ascending
            order. Non-negative, sum 1. Stored as an array in every sample.
        frame_sampler_mode (str): ``'fixed'`` (offsets ``frame_indices``) or
            ``'random'`` (``num_sampled_frame`` offsets drawn uniformly from
            ``frame_range`` with ``np.random`` once, when the annotations are
            loaded, as in MMPose).
        frame_range (int | Sequence[int], optional): ``r`` means
            ``[-r, r]``; or ``[low, high]`` with ``low <= 0 <= high``,
            ``low < high``. Required in random mode.
        num_sampled_frame (int, optional): Offsets drawn in random mode;
            ``len(frame_weights)`` must be ``num_sampled_frame + 1``.
        frame_indices (Sequence[int], optional): Offsets (0 = centre) in
            fixed mode, used sorted; as many as ``frame_weights``.
        ph_fill_len (int): Digits of the zero-padded frame file names.
        data_mode, metainfo, data_root, data_prefix, filter_cfg, indices,
        serialize_data, pipeline, test_mode, lazy_init, max_refetch: see
            :class:`BaseCocoStyleDataset`.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/posetrack18.py')

    def __init__(self,
                 ann_file: str = '',
                 bbox_file: str | None = None,
                 data_mode: str = 'topdown',
                 frame_weights: Sequence[float] = (0.0, 1.0),
                 frame_sampler_mode: str = 'random',
                 frame_range: int | Sequence[int] | None = None,
                 num_sampled_frame: int | None = None,
                 frame_indices: Sequence[int] | None = None,
                 ph_fill_len: int = 6,
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
        self.frame_weights = _check_weights(frame_weights)
        self.frame_sampler_mode = frame_sampler_mode
        self.frame_range = self.num_sampled_frame = self.frame_indices = None
        if frame_sampler_mode == 'random':
            self.frame_range = _check_range(frame_range)
            if num_sampled_frame is None or len(frame_weights) != num_sampled_frame + 1:
                raise ValueError(
                    'PoseTrack18VideoDataset: frame_sampler_mode="random" needs '
                    'num_sampled_frame = len(frame_weights) - 1 = '
                    f'{len(frame_weights) - 1}, got {num_sampled_frame!r}')
            self.num_sampled_frame = num_sampled_frame
        elif frame_sampler_mode == 'fixed':
            if frame_indices is None or len(frame_indices) != len(frame_weights):
                raise ValueError(
                    'PoseTrack18VideoDataset: frame_sampler_mode="fixed" needs '
                    'frame_indices with one offset per frame weight '
                    f'({len(frame_weights)}), got {frame_indices!r}')
            self.frame_indices = sorted(int(i) for i in frame_indices)
        else:
            raise ValueError('PoseTrack18VideoDataset: frame_sampler_mode must be '
                             f'"fixed" or "random", got {frame_sampler_mode!r}')
        self.ph_fill_len = ph_fill_len
        super().__init__(ann_file=ann_file, bbox_file=bbox_file, data_mode=data_mode,
                         metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, filter_cfg=filter_cfg,
                         indices=indices, serialize_data=serialize_data,
                         pipeline=pipeline, test_mode=test_mode,
                         lazy_init=lazy_init, max_refetch=max_refetch)

    def _offsets(self) -> Sequence[int]:
        """Frame offsets of one sample (drawn here in random mode)."""
        if self.frame_sampler_mode == 'fixed':
            return self.frame_indices
        low, high = self.frame_range
        return np.random.randint(low, high + 1, self.num_sampled_frame)

    def frame_paths(self, center_path: str, nframes: int) -> list[str]:
        """The centre path, then one path per offset (see the module doc)."""
        folder, name = osp.split(center_path)
        center = int(osp.splitext(name)[0])
        paths = [center_path]
        for offset in self._offsets():
            if self.test_mode and offset == 0:
                continue
            index = min(max(center + int(offset), 0), nframes - 1)
            paths.append(osp.join(folder, str(index).zfill(self.ph_fill_len) + '.jpg'))
        return paths

    def parse_data_info(self, raw_data_info: dict) -> dict | None:
        """One annotated person; None without ``bbox``/``keypoints`` or
        when all its keypoint values are 0."""
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        if 'bbox' not in ann or 'keypoints' not in ann or max(ann['keypoints']) == 0:
            return None
        keypoints, visible = self.read_keypoints(ann, ann['keypoints'])
        return dict(
            img_id=int(img['frame_id']),
            img_path=self.frame_paths(img['img_path'], int(img['nframes'])),
            bbox=self.clipped_xyxy(ann, img),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=ann['num_keypoints'],
            keypoints=keypoints,
            keypoints_visible=visible,
            frame_weights=self.frame_weights,
            id=ann['id'])

    def _load_detection_results(self) -> list[dict]:
        """One sample per person detection, with dummy keypoints (zeros,
        visible 1); ``id`` counts the kept detections from 0."""
        name = type(self).__name__
        coco = self._load_coco()
        check_file(self.bbox_file, 'bbox_file', name)
        dets = load_json(self.bbox_file, name)
        if not isinstance(dets, list) or not all(isinstance(d, dict) for d in dets):
            raise ValueError(f'{name}: bbox_file {self.bbox_file} must be a '
                             'list of dicts (detection results)')
        by_name = {img['file_name']: img for img in coco.images.values()}
        data_list = []
        for i, det in enumerate(dets):
            if det.get('category_id') != 1:
                continue
            img = self._image_of(i, det, coco.images, by_name)
            info = self._checks.parse(self._parse_detection, i, det, img, len(data_list))
            if info:
                data_list.append(info)
        return data_list

    def _image_of(self, index: int, det: dict, images: dict, by_name: dict) -> dict:
        """The ``ann_file`` image a detection refers to (by name or id)."""
        if 'image_name' in det:
            img = by_name.get(det['image_name'])
        else:
            img = images.get(det.get('image_id'))
        if img is None:
            raise ValueError(
                f'{type(self).__name__}: bbox_file {self.bbox_file}: detection '
                f'#{index} refers to image {det.get("image_name", det.get("image_id"))!r}, '
                f'which is not in {self.ann_file}')
        return img

    def _parse_detection(self, index: int, det: dict, img: dict, sample_id: int) -> dict:
        info = super()._parse_detection(index, dict(det, image_id=det.get('image_id')),
                                        img, sample_id)
        file_name = det.get('image_name', img['file_name'])
        nframes = int(det.get('nframes', img['nframes']))
        return dict(
            img_id=det.get('image_id'),
            img_path=self.frame_paths(osp.join(self.data_prefix['img'], file_name),
                                      nframes),
            frame_weights=self.frame_weights,
            bbox=info['bbox'], bbox_score=info['bbox_score'],
            keypoints=info['keypoints'], keypoints_visible=info['keypoints_visible'],
            id=sample_id)


def _check_weights(frame_weights: Sequence[float]) -> np.ndarray:
    weights = np.array(frame_weights, dtype=np.float64)
    # MMPose demands an exact sum of 1; a tolerance accepts e.g. [0.1, 0.2, 0.7]
    if weights.ndim != 1 or (weights < 0).any() or abs(weights.sum() - 1) > 1e-6:
        raise ValueError('PoseTrack18VideoDataset: frame_weights must be '
                         f'non-negative numbers summing to 1, got {frame_weights!r}')
    return weights


def _check_range(frame_range: int | Sequence[int] | None) -> list[int]:
    if isinstance(frame_range, int) and frame_range >= 0:
        return [-frame_range, frame_range]
    if isinstance(frame_range, Sequence) and len(frame_range) == 2 \
            and all(isinstance(i, int) for i in frame_range) \
            and frame_range[0] <= 0 <= frame_range[1] and frame_range[0] < frame_range[1]:
        return list(frame_range)
    raise ValueError('PoseTrack18VideoDataset: frame_sampler_mode="random" needs '
                     'frame_range, an int r >= 0 (for [-r, r]) or [low, high] '
                     f'ints with low <= 0 <= high and low < high; got {frame_range!r}')
