"""``BaseCocoStyleDataset``: keypoint datasets stored in the COCO json format.

Conventions (MMPose 1.x, kept exactly so that checkpoints and metrics agree):

- ``bbox`` is ``(1, 4)`` float32 ``xyxy`` = ``(left, top, right, bottom)`` in
  pixels of the original image. COCO stores ``xywh``; ground-truth boxes are
  converted with ``right = x + w`` and clipped to ``[0, width - 1]`` x
  ``[0, height - 1]``. Detection boxes (``bbox_file``) are converted, not
  clipped.
- ``keypoints`` is ``(1, K, 2)`` float32 pixels, ``keypoints_visible`` is
  ``(1, K)`` float32 ``min(1, v)`` of the COCO visibility flag ``v``.
- Top-down mode: one data info per person instance. Bottom-up mode: one per
  image, instance arrays concatenated along the first axis.
- Annotations with non-finite or impossible values are dropped with one
  warning, or raise with ``strict_annotations=True`` (see
  :mod:`posekit.datasets.annotation_checks`).
"""
from __future__ import annotations

import copy
import os.path as osp
import warnings
from itertools import chain, filterfalse, groupby
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from posekit.registry import DATASETS
from posekit.structures.bbox import bbox_xywh2xyxy

from .annotation_checks import (AnnotationChecks, InvalidAnnotation, detection_problem,
                                keypoint_problem, xywh_problem)
from .base_dataset import BaseDataset, check_file, load_json
from .coco_json import CocoIndex, copy_json, short_repr
from .metainfo import parse_pose_metainfo

# Meta information copied into every data info for the pipeline and model.
METAINFO_KEYS = ('dataset_name', 'upper_body_ids', 'lower_body_ids',
                 'flip_pairs', 'dataset_keypoint_weights', 'flip_indices',
                 'skeleton_links')


@DATASETS.register_module()
class BaseCocoStyleDataset(BaseDataset):
    """Pose dataset read from a COCO-style keypoint json.

    Args:
        ann_file (str): COCO json, relative to ``data_root`` unless absolute.
        bbox_file (str, optional): COCO detection results (a json list of
            ``{image_id, category_id, bbox (xywh), score}``). When set, each
            person detection (``category_id == 1``) becomes a sample with
            dummy keypoints, replacing the ground-truth boxes. Only valid
            with ``test_mode=True`` and ``data_mode='topdown'``. The path is
            used as given (not joined with ``data_root``), as in MMPose.
        data_mode (str): ``'topdown'`` (one sample per instance) or
            ``'bottomup'`` (one sample per image).
        metainfo (dict, optional): ``dict(from_file=...)`` or an inline
            ``dataset_info``; replaces the class's ``METAINFO``.
        filter_cfg (dict, optional): ``bbox_score_thr`` (top-down only) drops
            samples whose ``bbox_score`` is below it. ``filter_empty_gt``,
            ``min_size`` and ``scenes`` appear in MMPose configs but MMPose
            ignores them; they are accepted with a warning. Other keys raise.
        sample_interval (int): Keep only images whose id is a multiple of it.
        strict_annotations (bool): What to do with an annotation holding a
            NaN/inf number, a box of negative size, a visibility flag outside
            [0, 2], or the wrong number of keypoints for the metainfo (and a
            NaN/inf or empty box in ``bbox_file``). False (default): drop it
            and warn once (:class:`InvalidAnnotationWarning`, naming the file
            and the first few annotation and image ids); True: raise
            :class:`InvalidAnnotation` at the first one. A file with no valid
            annotation left raises either way. The dropped ones are listed
            in ``dropped_annotations`` (messages).
        data_root, data_prefix, indices, serialize_data, pipeline, test_mode,
        lazy_init, max_refetch: see :class:`BaseDataset`.
    """

    METAINFO: dict = {}
    FILTER_KEYS: tuple = ('bbox_score_thr',)
    IGNORED_FILTER_KEYS: tuple = ('filter_empty_gt', 'min_size', 'scenes')
    # False for subclasses whose loader does not read ``sample_interval``.
    SUPPORTS_SAMPLE_INTERVAL: bool = True

    def __init__(self,
                 ann_file: str = '',
                 bbox_file: str | None = None,
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
                 max_refetch: int = 1000,
                 sample_interval: int = 1,
                 strict_annotations: bool = False):
        name = type(self).__name__
        if data_mode not in ('topdown', 'bottomup'):
            raise ValueError(f'{name}: data_mode must be "topdown" or '
                             f'"bottomup", got {data_mode!r}')
        if bbox_file and data_mode != 'topdown':
            raise ValueError(f'{name}: bbox_file is only supported in topdown '
                             f'mode, but data_mode is {data_mode!r}')
        if bbox_file and not test_mode:
            raise ValueError(f'{name}: bbox_file replaces ground-truth boxes '
                             'and is only supported with test_mode=True')
        if sample_interval != 1 and not self.SUPPORTS_SAMPLE_INTERVAL:
            raise ValueError(f'{name} does not support sample_interval')
        self.data_mode = data_mode
        self.bbox_file = bbox_file
        self.sample_interval = sample_interval
        self.strict_annotations = strict_annotations
        self.dropped_annotations: list[str] = []
        self._check_filter_cfg(filter_cfg)
        super().__init__(ann_file=ann_file, metainfo=metainfo,
                         data_root=data_root, data_prefix=data_prefix,
                         filter_cfg=filter_cfg, indices=indices,
                         serialize_data=serialize_data, pipeline=pipeline,
                         test_mode=test_mode, lazy_init=lazy_init,
                         max_refetch=max_refetch)

    def _check_filter_cfg(self, filter_cfg: Mapping | None) -> None:
        for key in filter_cfg or {}:
            if key in self.IGNORED_FILTER_KEYS:
                warnings.warn(f'{type(self).__name__}: filter_cfg key {key!r} '
                              'has no effect (MMPose ignores it too)')
            elif key not in self.FILTER_KEYS:
                raise ValueError(f'{type(self).__name__}: unknown filter_cfg '
                                 f'key {key!r}; supported: '
                                 f'{", ".join(self.FILTER_KEYS)}')

    @classmethod
    def _load_metainfo(cls, metainfo: Mapping | None = None) -> dict:
        """Parse ``metainfo`` (or the class's ``METAINFO`` when it is None)."""
        if metainfo is None:
            metainfo = copy.deepcopy(cls.METAINFO)
        if not isinstance(metainfo, Mapping):
            raise TypeError(f'{cls.__name__}: metainfo must be a dict, got '
                            f'{type(metainfo).__name__}')
        if not metainfo:
            raise ValueError(f'{cls.__name__} has no default meta information; '
                             "pass metainfo=dict(from_file='configs/_base_/"
                             "datasets/<name>.py')")
        return parse_pose_metainfo(dict(metainfo))

    # ------------------------------------------------------------ loading
    def load_data_list(self) -> list[dict]:
        # _load_annotations and the parsers report invalid annotations here
        name, strict = type(self).__name__, self.strict_annotations
        if self.bbox_file:
            self._checks = AnnotationChecks(name, self.bbox_file, strict, 'detections')
            data_list = self._load_detection_results()
        else:
            self._checks = AnnotationChecks(name, self.ann_file, strict)
            instances, images = self._load_annotations()
            if self.data_mode == 'topdown':
                data_list = self._get_topdown_data_infos(instances)
            else:
                data_list = self._get_bottomup_data_infos(instances, images)
        checks, self._checks = self._checks, None  # the dataset is pickled to workers
        self.dropped_annotations = [str(e) for e in checks.dropped]
        checks.report()
        return data_list

    def _load_coco(self, set_classes: bool = True) -> CocoIndex:
        """Read ``ann_file``; its categories become ``metainfo['CLASSES']``."""
        check_file(self.ann_file, 'annotation file', type(self).__name__)
        coco = CocoIndex(self.ann_file, type(self).__name__)
        if set_classes and coco.has_categories:
            self._metainfo['CLASSES'] = coco.categories
        return coco

    def _load_annotations(self) -> tuple[list[dict], list[dict]]:
        """Parse every annotation: (instance infos, image infos), file order."""
        coco = self._load_coco()
        instances, images = [], []
        for img_id, img in coco.images.items():
            if self.sample_interval != 1 and img_id % self.sample_interval:
                continue
            img.update(img_id=img_id, img_path=osp.join(self.data_prefix['img'],
                                                        img['file_name']))
            images.append(img)
            for ann in coco.anns_of(img_id):
                info = self._checks.parse(self.parse_data_info,
                                          dict(raw_ann_info=ann, raw_img_info=img))
                if info:
                    instances.append(info)
        return instances, images

    def parse_data_info(self, raw_data_info: dict) -> dict | None:
        """One instance: ``raw_ann_info`` (COCO annotation) + ``raw_img_info``.

        Returns None for annotations without ``bbox`` or ``keypoints``.
        """
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        if 'bbox' not in ann or 'keypoints' not in ann:
            return None
        box = self.clip_box(ann, img)
        bbox = np.array(box, dtype=np.float32).reshape(1, 4)
        keypoints, visible = self.read_keypoints(ann, ann['keypoints'])
        num_keypoints = ann['num_keypoints'] if 'num_keypoints' in ann else \
            np.count_nonzero(keypoints.max(axis=2))
        info = dict(
            img_id=ann['image_id'], img_path=img['img_path'], bbox=bbox,
            bbox_score=np.ones(1, dtype=np.float32), num_keypoints=num_keypoints,
            keypoints=keypoints, keypoints_visible=visible,
            area=self.area_of(ann, box), iscrowd=ann.get('iscrowd', 0),
            segmentation=ann.get('segmentation', None), id=ann['id'],
            category_id=np.array(ann['category_id']),
            raw_ann_info=copy_json(ann))
        if 'crowdIndex' in img:
            info['crowd_index'] = img['crowdIndex']
        return info

    # ---- helpers for parse_data_info overrides
    def _bad(self, ann: dict, field: str, problem: str) -> InvalidAnnotation:
        """The error for one annotation's field (a ValueError), naming the
        file, annotation id and image id; dropped unless strict_annotations."""
        return InvalidAnnotation(type(self).__name__, self.ann_file,
                                 f'annotation id {ann.get("id")!r} (image '
                                 f'{ann.get("image_id")!r}) field {field!r}', problem)

    def read_keypoint_array(self, ann: dict, values: Any, field: str = 'keypoints',
                            dtype: Any = np.float32) -> np.ndarray:
        """COCO ``[x, y, v] * K`` values as a (1, K, 3) array.

        Raises InvalidAnnotation (a ValueError) naming the file, annotation
        id and field when the values are not ``3 * num_keypoints`` numbers (K
        from the metainfo), or hold a NaN/inf or a flag ``v`` outside [0, 2].
        """
        try:
            arr = np.array(values, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise self._bad(ann, field, f'not a list of numbers ({e})') from e
        if arr.dtype == object:
            raise self._bad(ann, field, f'not a list of numbers: {short_repr(values)}')
        expected = self._metainfo['num_keypoints']
        if arr.size != 3 * expected:
            raise self._bad(ann, field, f'{arr.size} values, expected '
                            f'{expected} keypoints x (x, y, v) = {3 * expected}')
        arr = arr.reshape(1, -1, 3)
        problem = keypoint_problem(arr)
        if problem:
            raise self._bad(ann, field, problem)
        return arr

    def read_keypoints(self, ann: dict, values: Any, field: str = 'keypoints'
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (1, K, 2) float32 and visibility ``min(1, v)`` (1, K) float32."""
        arr = self.read_keypoint_array(ann, values, field)
        return arr[..., :2], np.minimum(1, arr[..., 2])

    def read_xywh(self, ann: dict, field: str = 'bbox') -> list:
        """The 4 numbers of a COCO ``xywh`` box field, validated."""
        box = ann.get(field)
        if not isinstance(box, (list, tuple)) or len(box) != 4:
            raise self._bad(ann, field, f'expected [x, y, w, h], got {short_repr(box)}')
        problem = xywh_problem(box)
        if problem:
            raise self._bad(ann, field, problem)
        return list(box)

    def clip_box(self, ann: dict, img: dict, field: str = 'bbox',
                 offset: float = 0) -> list:
        """A COCO xywh box (shifted by ``offset``) as xyxy clipped to the image.

        Returns ``[x1, y1, x2, y2]`` Python numbers (not yet float32: the
        area fallback is computed from these unrounded values, as in MMPose).
        """
        x, y, w, h = self.read_xywh(ann, field)
        x, y = x + offset, y + offset
        max_x, max_y = img['width'] - 1, img['height'] - 1
        # Python min/max give the same numbers as np.clip, ~10x faster.
        return [min(max(x, 0), max_x), min(max(y, 0), max_y),
                min(max(x + w, 0), max_x), min(max(y + h, 0), max_y)]

    def clipped_xyxy(self, ann: dict, img: dict, field: str = 'bbox',
                     offset: float = 0) -> np.ndarray:
        """:meth:`clip_box` as a (1, 4) float32 array."""
        box = self.clip_box(ann, img, field, offset)
        return np.array(box, dtype=np.float32).reshape(1, 4)

    @staticmethod
    def box_area(box: Sequence) -> np.ndarray:
        """0.53 x the area of an xyxy box (at least 1), float32 0-d (a person's
        area is about half its box; used where the json has no ``area``)."""
        x1, y1, x2, y2 = box
        return np.array(max((x2 - x1) * (y2 - y1) * 0.53, 1.0), dtype=np.float32)

    @classmethod
    def area_of(cls, ann: dict, box: Sequence) -> np.ndarray:
        """``ann['area']`` as float32 0-d, else :meth:`box_area`."""
        if 'area' in ann:
            return np.array(ann['area'], dtype=np.float32)
        return cls.box_area(box)

    # --------------------------------------------------- sample layouts
    @staticmethod
    def _is_valid_instance(info: dict) -> bool:
        """Not crowd, some keypoints, a box with positive size."""
        if info.get('iscrowd'):
            return False
        if 'num_keypoints' in info and info['num_keypoints'] == 0:
            return False
        if 'bbox' in info:
            w, h = info['bbox'][0, 2:4] - info['bbox'][0, :2]
            if w <= 0 or h <= 0:
                return False
        if 'keypoints' in info and np.max(info['keypoints']) <= 0:
            return False
        return True

    def _get_topdown_data_infos(self, instances: list[dict]) -> list[dict]:
        return [info for info in instances if self._is_valid_instance(info)]

    def _get_bottomup_data_infos(self, instances: list[dict],
                                 images: list[dict]) -> list[dict]:
        """One info per image: every instance (valid or not) stacked.

        Arrays are concatenated on axis 0 (0-d arrays stacked), lists chained,
        other values listed. ``invalid_segs`` holds the segmentations of
        crowd/empty instances so the pipeline can mask them out. In test
        mode, images without annotations are added too.
        """
        data_list, used = [], set()
        for img_id, group in groupby(instances, lambda x: x['img_id']):
            group = list(group)
            used.add(img_id)
            info = dict(img_id=img_id, img_path=group[0]['img_path'])
            for key in group[0]:
                if key not in info:
                    info[key] = _stack([d[key] for d in group])
            info['invalid_segs'] = [
                d['segmentation'] for d in filterfalse(self._is_valid_instance, group)
                if 'segmentation' in d]
            data_list.append(info)
        if self.test_mode:
            for img in images:
                if img['img_id'] not in used:
                    data_list.append(dict(img_id=img['img_id'],
                                          img_path=img['img_path'], id=[],
                                          raw_ann_info=None))
        return data_list

    def _load_detection_results(self) -> list[dict]:
        """One sample per person detection, with dummy keypoints (all zeros, visible 1)."""
        name = type(self).__name__
        coco = self._load_coco()
        check_file(self.bbox_file, 'bbox_file', name)
        dets = load_json(self.bbox_file, name)
        if not isinstance(dets, list) or not all(isinstance(d, dict) for d in dets):
            raise ValueError(f'{name}: bbox_file {self.bbox_file} must be a '
                             'list of dicts (COCO detection results)')
        data_list = []
        for i, det in enumerate(dets):
            if det.get('category_id') != 1:
                continue
            missing = [k for k in ('image_id', 'bbox', 'score') if k not in det]
            if missing:
                raise ValueError(f'{name}: bbox_file {self.bbox_file}: detection '
                                 f'#{i} has no {missing}')
            img = coco.images.get(det['image_id'])
            if img is None:
                raise ValueError(f'{name}: bbox_file {self.bbox_file}: image_id '
                                 f'{det.get("image_id")!r} is not in {self.ann_file}')
            info = self._checks.parse(self._parse_detection, i, det, img, len(data_list))
            if info:
                data_list.append(info)
        return data_list

    def _parse_detection(self, index: int, det: dict, img: dict, sample_id: int) -> dict:
        """One detection as a sample; InvalidAnnotation for a NaN/inf or
        empty box or a NaN score (it would give NaN keypoints)."""
        box, score = det['bbox'][:4], det['score']
        problem = detection_problem(box, score)
        if problem:
            raise self._checks.error(f'detection #{index} (image {det["image_id"]!r}) '
                                     f'field {problem[0]!r}', problem[1])
        num_keypoints = self._metainfo['num_keypoints']
        return dict(
            img_id=det['image_id'],
            img_path=osp.join(self.data_prefix['img'], img['file_name']),
            img_shape=(img['height'], img['width']),
            bbox=bbox_xywh2xyxy(np.array(box, dtype=np.float32).reshape(1, 4)),
            bbox_score=np.array(score, dtype=np.float32).reshape(1),
            keypoints=np.zeros((1, num_keypoints, 2), dtype=np.float32),
            keypoints_visible=np.ones((1, num_keypoints), dtype=np.float32),
            id=sample_id)

    def filter_data(self) -> list[dict]:
        """Apply ``filter_cfg['bbox_score_thr']`` (top-down only)."""
        if not self.filter_cfg or 'bbox_score_thr' not in self.filter_cfg:
            return self.data_list
        if self.data_mode != 'topdown':
            raise ValueError(f'{type(self).__name__}: filter_cfg bbox_score_thr '
                             'is only supported in topdown mode')
        thr = self.filter_cfg['bbox_score_thr']
        return [info for info in self.data_list if not info['bbox_score'] < thr]

    # ----------------------------------------------------------- indexing
    def get_data_info(self, idx: int) -> dict:
        """A fresh data info with the metainfo fields the pipeline needs added.

        Added: ``dataset_name``, ``upper_body_ids``, ``lower_body_ids``,
        ``flip_pairs``, ``dataset_keypoint_weights`` ((K,) float32),
        ``flip_indices``, ``skeleton_links`` (and ``sample_idx``).
        """
        info = super().get_data_info(idx)
        for key in METAINFO_KEYS:
            if key in info:
                raise KeyError(f'{type(self).__name__}: data info field {key!r} '
                               'is reserved for the metainfo')
            info[key] = copy.deepcopy(self._metainfo[key])
        return info

    def prepare_data(self, idx: int) -> Any:
        info = self.get_data_info(idx)
        # Mixing transforms (Mosaic, MixUp) draw extra samples from here. Set
        # here, not in get_data_info, so that drawing does not recurse.
        info['dataset'] = self
        return self.pipeline(info)


def _stack(values: list) -> Any:
    """Merge one field of several instances (bottom-up samples)."""
    first = values[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(values, axis=0) if first.ndim > 0 else np.stack(values)
    if isinstance(first, (list, tuple)):
        return list(chain.from_iterable(values))
    return values
