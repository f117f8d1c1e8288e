"""``BaseMocapDataset``: 2D-to-3D pose lifting datasets read from a ``.npz``.

The annotation file holds one row per video frame (MMPose 1.x's layout):

- ``imgname`` (F,) str: image path of the frame, relative to ``data_prefix['img']``;
- ``S`` (F, K, 4): 3D keypoints ``(x, y, z, visible)``, in the file's units
  (metres, camera or world space as the file was made); zeros when absent;
- ``part`` (F, K, 3): 2D keypoints ``(x, y, visible)`` in image pixels; zeros
  when absent;
- ``center`` (F, 2) pixels and ``scale`` (F,) (box size / 200): zeros when absent.

A sample is a list of frame indices (``sequence_indices[i]``, T frames). Its
data info holds, as MMPose's does:

- ``keypoints`` (T, K, 2) float32, ``keypoints_visible`` (T, K) float32;
- ``keypoints_3d`` (T, K, 3) float32, ``keypoints_3d_visible`` (T, K) float32;
- ``lifting_target`` (n, K, 3) and ``lifting_target_visible`` (n, K): the
  target frames: the last one (``causal``), the middle one
  (``seq_len // 2``), or all T with ``multiple_target``;
- ``target_img_path`` (n,) str array, ``img_paths`` list of T str,
  ``img_ids`` list of T frame indices, ``id`` the sample index;
- ``center`` (1, 2) float32 and ``scale`` float32 taken from file row ``id``
  (the *sample* index, not a frame of the sample: MMPose 1.3.2 does this,
  and models trained there saw these values; no lifting pipeline reads them);
- ``camera_param`` (dict, with ``camera_param_file``), plus the metainfo
  keys of :data:`METAINFO_KEYS` added by :meth:`get_data_info`.
"""
from __future__ import annotations

import copy
import os.path as osp
import pickle
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from posekit.registry import DATASETS

from .base_dataset import BaseDataset, check_file, is_abs_path, load_json
from .metainfo import parse_pose_metainfo

# Meta information copied into every data info (MMPose's list for mocap data).
METAINFO_KEYS = ('upper_body_ids', 'lower_body_ids', 'flip_pairs',
                 'dataset_keypoint_weights', 'flip_indices', 'skeleton_links')


def join_root(path: str | None, data_root: str | None) -> str | None:
    """``path`` joined to ``data_root`` unless it is absolute (or empty)."""
    if not path or not data_root or is_abs_path(path):
        return path
    return osp.join(data_root, path)


def load_camera_params(path: str, owner: str) -> Any:
    """Read a camera-parameter file: a pickle (``.pkl``) or a json."""
    check_file(path, 'camera_param_file', owner)
    if path.endswith('.json'):
        params = load_json(path, owner)
    else:
        try:
            with open(path, 'rb') as f:
                params = pickle.load(f)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError,
                ValueError, TypeError) as e:
            raise ValueError(f'{owner}: camera_param_file {path} is not a readable '
                             f'pickle of camera parameters: {e!r}') from e
    if not isinstance(params, Mapping):
        raise ValueError(f'{owner}: camera_param_file {path} holds a '
                         f'{type(params).__name__}, expected a dict of camera '
                         'parameters (one entry per camera)')
    return params


@DATASETS.register_module()
class BaseMocapDataset(BaseDataset):
    """Pose-lifting dataset over frames of videos, read from a ``.npz``.

    Args:
        ann_file (str): The ``.npz`` (see the module docstring), relative to
            ``data_root`` unless absolute.
        seq_len (int): Frames per sample. The base class supports 1 only;
            subclasses split videos into longer sequences.
        multiple_target (int): When > 0, samples of ``multiple_target``
            consecutive frames, all of them targets (needs ``seq_len=1``).
        causal (bool): The target is the last frame of a sample (True) or its
            middle frame ``seq_len // 2`` (False).
        subset_frac (float): In (0, 1]: keep a random contiguous run of this
            fraction of the samples (its start drawn from ``np.random``, as
            MMPose does; seed it for a reproducible subset). MMPose's base
            class ignores it (only its ``Human36mDataset`` applies it); here
            every mocap dataset applies it.
        camera_param_file (str, optional): Pickle (or json) of camera
            parameters, relative to ``data_root`` unless absolute; read by
            :meth:`get_camera_param`. Checked when the dataset is built.
        data_mode (str): ``'topdown'`` only (one sample per sequence).
            ``'bottomup'`` raises: no MMPose lifting config uses it.
        metainfo (dict, optional): ``dict(from_file=...)`` or an inline
            ``dataset_info``; replaces the class's ``METAINFO``.
        filter_cfg (dict, optional): Not used by mocap datasets (MMPose ignores
            it too); a non-empty one warns.
        data_root, data_prefix, indices, serialize_data, pipeline, test_mode,
        lazy_init, max_refetch: see :class:`BaseDataset`.

    Raises:
        FileNotFoundError: ``ann_file`` or ``camera_param_file`` is missing.
        ValueError: An argument is out of range, or no sample is left.
    """

    METAINFO: dict = {}

    def __init__(self,
                 ann_file: str = '',
                 seq_len: int = 1,
                 multiple_target: int = 0,
                 causal: bool = True,
                 subset_frac: float = 1.0,
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
        if data_mode != 'topdown':
            raise ValueError(f'{name}: data_mode must be "topdown" (one sample '
                             f'per frame sequence), got {data_mode!r}')
        if not (isinstance(seq_len, int) and seq_len >= 1):
            raise ValueError(f'{name}: seq_len must be an int >= 1, got {seq_len!r}')
        if not (isinstance(multiple_target, int) and multiple_target >= 0):
            raise ValueError(f'{name}: multiple_target must be an int >= 0, '
                             f'got {multiple_target!r}')
        if multiple_target and seq_len != 1:
            raise ValueError(f'{name}: multiple_target={multiple_target} needs '
                             f'seq_len=1, got seq_len={seq_len}')
        if not 0 < subset_frac <= 1:
            raise ValueError(f'{name}: subset_frac must be in (0, 1], got {subset_frac!r}')
        if filter_cfg:
            warnings.warn(f'{name}: filter_cfg {dict(filter_cfg)!r} has no effect '
                          'on mocap datasets (MMPose ignores it too)')
        self.data_mode = data_mode
        self.seq_len = seq_len
        self.multiple_target = multiple_target
        self.causal = causal
        self.subset_frac = subset_frac
        # Checked now, as MMPose does, so that a bad path fails at build time.
        check_file(join_root(ann_file, data_root), 'annotation file (ann_file)', name)
        self.camera_param_file = join_root(camera_param_file, data_root)
        self.camera_param = None
        if self.camera_param_file:
            self.camera_param = load_camera_params(self.camera_param_file, name)
        self.sequence_indices: list[list[int]] = []
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, filter_cfg=filter_cfg,
                         indices=indices, serialize_data=serialize_data,
                         pipeline=pipeline, test_mode=test_mode,
                         lazy_init=lazy_init, max_refetch=max_refetch)

    @classmethod
    def _load_metainfo(cls, metainfo: Mapping | None = None) -> dict:
        """Parse ``metainfo`` (or the class's ``METAINFO`` when it is None)."""
        if metainfo is None:
            metainfo = copy.deepcopy(cls.METAINFO)
        if not isinstance(metainfo, Mapping):
            raise TypeError(f'{cls.__name__}: metainfo must be a dict, got '
                            f'{type(metainfo).__name__}')
        return parse_pose_metainfo(dict(metainfo)) if metainfo else {}

    # ------------------------------------------------------------ loading
    def read_annotations(self) -> dict[str, np.ndarray]:
        """The arrays of ``ann_file`` (read fully, so no file stays open)."""
        name = type(self).__name__
        try:
            with np.load(self.ann_file, allow_pickle=False) as npz:
                ann = {key: npz[key] for key in npz.files}
        except (OSError, ValueError) as e:
            raise ValueError(f'{name}: cannot read {self.ann_file} as a .npz: {e}') from e
        if 'imgname' not in ann:
            raise ValueError(f'{name}: {self.ann_file} has no "imgname" array '
                             f'(it has {sorted(ann)})')
        return ann

    def get_sequence_indices(self, ann: Mapping[str, np.ndarray]) -> list[list[int]]:
        """Frame indices of each sample: one frame each, then merged by
        ``multiple_target`` (a trailing incomplete group is dropped)."""
        if self.seq_len != 1:
            raise ValueError(f'{type(self).__name__} supports seq_len=1 only, got '
                             f'{self.seq_len}; use a dataset that splits videos')
        num_frames = len(ann['imgname'])
        if not self.multiple_target:
            return [[i] for i in range(num_frames)]
        n = self.multiple_target
        return [list(range(i, i + n)) for i in range(0, num_frames - n + 1, n)]

    def load_data_list(self) -> list[dict]:
        if 'num_keypoints' not in self._metainfo:
            raise ValueError(f'{type(self).__name__} has no meta information; pass '
                             "metainfo=dict(from_file='configs/_base_/datasets/h36m.py')")
        ann = self.read_annotations()
        self.sequence_indices = self._take_fraction(self.get_sequence_indices(ann))
        if not self.sequence_indices:
            raise ValueError(
                f'{type(self).__name__}: no sample in {self.ann_file} with '
                f'seq_len={self.seq_len}, multiple_target={self.multiple_target} '
                '(every video is shorter than a sample)')
        instances = self.load_instances(ann)
        return [info for info in instances if self._is_valid_instance(info)]

    def _take_fraction(self, sequences: list) -> list:
        """A contiguous run of ``int(len * subset_frac)`` sequences, its start
        drawn with ``np.random.randint`` (drawn even when the fraction is 1,
        as in MMPose, so a seeded run draws the same numbers afterwards)."""
        size = int(len(sequences) * self.subset_frac)
        start = np.random.randint(0, len(sequences) - size + 1)
        return sequences[start:start + size]

    def _frame_arrays(self, ann: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``S``, ``part``, ``center``, ``scale``; zeros for the missing ones."""
        num_frames, k = len(ann['imgname']), self._metainfo['num_keypoints']
        defaults = dict(S=np.zeros((num_frames, k, 4), np.float32),
                        part=np.zeros((num_frames, k, 3), np.float32),
                        center=np.zeros((num_frames, 2), np.float32),
                        scale=np.zeros(num_frames, np.float32))
        arrays = {key: ann.get(key, default) for key, default in defaults.items()}
        for key, shape in (('S', (k, 4)), ('part', (k, 3))):
            if arrays[key].shape != (num_frames, *shape):
                raise ValueError(f'{type(self).__name__}: {self.ann_file}: {key!r} '
                                 f'has shape {arrays[key].shape}, expected '
                                 f'{(num_frames, *shape)} (frames, keypoints, values)')
        return arrays

    def target_indices(self) -> list[int]:
        """Positions of the target frames inside a sample."""
        if self.multiple_target:
            return list(range(self.multiple_target))
        return [-1] if self.causal else [self.seq_len // 2]

    def load_instances(self, ann: Mapping[str, np.ndarray]) -> list[dict]:
        """One data info per entry of ``self.sequence_indices``."""
        arrays = self._frame_arrays(ann)
        img_names = ann['imgname']
        scales = arrays['scale'].astype(np.float32)
        target = self.target_indices()
        instances = []
        for idx, frame_ids in enumerate(self.sequence_indices):
            names = img_names[frame_ids]
            kpts = arrays['part'][frame_ids].astype(np.float32)
            kpts_3d = arrays['S'][frame_ids].astype(np.float32)
            info = dict(
                num_keypoints=self._metainfo['num_keypoints'],
                keypoints=kpts[..., :2], keypoints_visible=kpts[..., 2],
                keypoints_3d=kpts_3d[..., :3], keypoints_3d_visible=kpts_3d[..., 3],
                # row idx (the sample's index), as MMPose: see the module docstring
                scale=scales[idx],
                center=arrays['center'][idx].astype(np.float32).reshape(1, -1),
                id=idx, category_id=1, iscrowd=0,
                img_paths=list(names), img_ids=list(frame_ids),
                lifting_target=kpts_3d[target, :, :3],
                lifting_target_visible=kpts_3d[target, :, 3],
                target_img_path=names[target])
            if self.camera_param is not None:
                info['camera_param'] = self.get_camera_param(names[0])
            instances.append(info)
        return instances

    def get_camera_param(self, imgname: str) -> dict:
        """Camera parameters of the frame ``imgname``; subclasses define it."""
        raise NotImplementedError(f'{type(self).__name__} does not define '
                                  'get_camera_param, so camera_param_file cannot be used')

    @staticmethod
    def _is_valid_instance(info: dict) -> bool:
        """Not crowd, and some 2D keypoint coordinate above 0 (MMPose's test)."""
        if info.get('iscrowd') or info.get('num_keypoints') == 0:
            return False
        return not ('keypoints' in info and np.max(info['keypoints']) <= 0)

    def get_data_info(self, idx: int) -> dict:
        """Entry ``idx`` with ``sample_idx`` and the :data:`METAINFO_KEYS` added."""
        info = super().get_data_info(idx)
        for key in METAINFO_KEYS:
            if key in info:
                raise KeyError(f'{type(self).__name__}: data info key {key!r} is '
                               'reserved for the metainfo')
            info[key] = copy.deepcopy(self._metainfo[key])
        return info
