"""``BaseDataset``: annotations in memory, a pipeline per sample (MMEngine's contract).

A dataset turns an annotation file into a list of plain dicts ("data infos"),
one per sample, and runs a pipeline of transforms on a fresh copy of one of
them when indexed. Subclasses override :meth:`BaseDataset.load_data_list`
(and usually :meth:`BaseDataset.parse_data_info`).
"""
from __future__ import annotations

import copy
import gc
import json
import os.path as osp
import pickle
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from torch.utils.data import Dataset

from .transforms.compose import Compose


def is_abs_path(path: str) -> bool:
    """True for an absolute local path or a URI (``s3://...``)."""
    return osp.isabs(path) or '://' in path


def check_file(path: str, what: str, owner: str) -> None:
    """Raise ``FileNotFoundError`` naming ``path`` when it is not a file."""
    if not path:
        raise FileNotFoundError(f'{owner}: no {what} given (empty path)')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{owner}: {what} not found: {path}')


def load_json(path: str, owner: str) -> Any:
    """Read a json file, naming it in the error when it is not valid json."""
    with open(path, encoding='utf-8') as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{owner}: {path} is not valid json: {e}') from e


class BaseDataset(Dataset):
    """A list of data-info dicts plus a pipeline.

    Indexing ``ds[i]`` runs the pipeline on ``ds.get_data_info(i)``. When the
    pipeline returns ``None`` (an unreadable image, an augmentation that
    failed) a training set draws another random index, up to ``max_refetch``
    times; a test set raises, because silently swapping test samples would
    change the metric.

    Args:
        ann_file (str): Annotation file, relative to ``data_root`` unless
            absolute. The default loader reads MMEngine's format: a json (or
            pickle) dict with ``metainfo`` and ``data_list``.
        metainfo (dict, optional): Meta information; updates the class's
            ``METAINFO``. A string value that names a file is replaced by the
            file's lines (class-name files).
        data_root (str): Joined in front of ``ann_file`` and each
            ``data_prefix`` value unless they are absolute.
        data_prefix (dict, optional): Folders of the data, e.g.
            ``dict(img='train2017/')``. Defaults to ``dict(img='')``.
        filter_cfg (dict, optional): Read by :meth:`filter_data` of subclasses.
        indices (int | Sequence[int], optional): Keep only these samples
            (after filtering): an int ``n`` keeps the first ``n`` (``-n`` the
            last ``n``), a sequence keeps those indices in that order.
        serialize_data (bool): Store the data list as one pickled ``uint8``
            buffer plus an ``int64`` end-offset array, so that dataloader
            worker processes share it copy-on-read instead of each touching
            (and so copying) millions of Python objects. Defaults to True.
        pipeline (Sequence[dict | Callable]): Transforms, see ``Compose``.
        test_mode (bool): Test set: no refetching. Defaults to False.
        lazy_init (bool): Do not load annotations until the first
            :meth:`full_init`, ``len`` or indexing (useful when only the
            metainfo is needed). Defaults to False.
        max_refetch (int): How many other random samples a training set tries
            when the pipeline returns ``None``. Defaults to 1000.
    """

    METAINFO: dict = {}

    def __init__(self,
                 ann_file: str = '',
                 metainfo: Mapping | None = None,
                 data_root: str | None = '',
                 data_prefix: Mapping | None = None,
                 filter_cfg: Mapping | None = None,
                 indices: int | Sequence[int] | None = None,
                 serialize_data: bool = True,
                 pipeline: Sequence[Mapping | Callable] = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000):
        self.ann_file = ann_file or ''
        self.data_root = data_root or ''
        self.data_prefix = dict(img='') if data_prefix is None else dict(data_prefix)
        self.filter_cfg = copy.deepcopy(filter_cfg)
        self._indices = indices
        self.serialize_data = serialize_data
        self.test_mode = test_mode
        self.max_refetch = max_refetch
        self._metainfo = self._load_metainfo(copy.deepcopy(metainfo))
        self.data_list: list[dict] = []
        self.data_bytes = np.zeros(0, dtype=np.uint8)
        self.data_address = np.zeros(0, dtype=np.int64)
        self._fully_initialized = False
        self._join_prefix()
        self.pipeline = Compose(pipeline)
        if not lazy_init:
            self.full_init()

    # ----------------------------------------------------------- metainfo
    @classmethod
    def _load_metainfo(cls, metainfo: Mapping | None = None) -> dict:
        """The class's ``METAINFO`` updated with ``metainfo``."""
        result = copy.deepcopy(cls.METAINFO)
        if metainfo is None:
            return result
        if not isinstance(metainfo, Mapping):
            raise TypeError(f'{cls.__name__}: metainfo must be a dict, got '
                            f'{type(metainfo).__name__}')
        for key, value in metainfo.items():
            if isinstance(value, str) and osp.isfile(value):
                with open(value, encoding='utf-8') as f:
                    value = [line.rstrip('\n') for line in f]
            result[key] = value
        return result

    @property
    def metainfo(self) -> dict:
        """A deep copy of the dataset's meta information."""
        return copy.deepcopy(self._metainfo)

    def _join_prefix(self) -> None:
        if self.ann_file and self.data_root and not is_abs_path(self.ann_file):
            self.ann_file = osp.join(self.data_root, self.ann_file)
        for key, prefix in self.data_prefix.items():
            if not isinstance(prefix, str):
                raise TypeError(f'{type(self).__name__}: data_prefix[{key!r}] '
                                f'must be a str, got {prefix!r}')
            if self.data_root and not is_abs_path(prefix):
                self.data_prefix[key] = osp.join(self.data_root, prefix)

    # ------------------------------------------------------------ loading
    def full_init(self) -> None:
        """Load, filter, subset and serialize the annotations (once)."""
        if self._fully_initialized:
            return
        # Loading makes millions of objects and no reference cycles; the
        # cyclic GC would rescan them all again and again (~25% of the time).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.data_list = self.load_data_list()
            self.data_list = self.filter_data()
            if self._indices is not None:
                self.data_list = self._take(self.data_list, self._indices)
            if self.serialize_data:
                self.data_bytes, self.data_address = self._serialize(self.data_list)
                self.data_list = []
        finally:
            if gc_was_enabled:
                gc.enable()
        self._fully_initialized = True

    def load_data_list(self) -> list[dict]:
        """Read MMEngine's generic format: ``{'metainfo': {...}, 'data_list': [...]}``.

        Meta information from the file never overrides ``METAINFO`` or the
        ``metainfo`` argument.
        """
        owner = type(self).__name__
        check_file(self.ann_file, 'annotation file', owner)
        if self.ann_file.endswith(('.pkl', '.pickle')):
            with open(self.ann_file, 'rb') as f:
                annotations = pickle.load(f)
        else:
            annotations = load_json(self.ann_file, owner)
        if not isinstance(annotations, dict) or not {
                'metainfo', 'data_list'} <= annotations.keys():
            raise ValueError(f'{owner}: {self.ann_file} must hold a dict with '
                             '"metainfo" and "data_list" keys')
        for key, value in annotations['metainfo'].items():
            self._metainfo.setdefault(key, value)
        data_list = []
        for raw in annotations['data_list']:
            info = self.parse_data_info(raw)
            infos = info if isinstance(info, list) else [info]
            for item in infos:
                if not isinstance(item, dict):
                    raise TypeError(f'{owner}.parse_data_info must return a '
                                    f'dict or a list of dicts, got {item!r}')
            data_list.extend(infos)
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict | list[dict]:
        """Join each ``data_prefix`` folder to the entry's key of the same name."""
        for key, prefix in self.data_prefix.items():
            if key not in raw_data_info:
                raise ValueError(f'{type(self).__name__}: an entry of '
                                 f'{self.ann_file} has no {key!r} key, which '
                                 f'data_prefix names: {raw_data_info!r}')
            raw_data_info[key] = osp.join(prefix, raw_data_info[key])
        return raw_data_info

    def filter_data(self) -> list[dict]:
        """Drop unwanted entries of ``self.data_list``; keeps all by default."""
        return self.data_list

    @staticmethod
    def _take(data_list: list, indices: int | Sequence[int]) -> list:
        if isinstance(indices, (int, np.integer)):
            return data_list[:indices] if indices >= 0 else data_list[indices:]
        if isinstance(indices, Sequence):
            return [data_list[i] for i in indices]
        raise TypeError(f'indices must be an int or a sequence of ints, got '
                        f'{type(indices).__name__}')

    @staticmethod
    def _serialize(data_list: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """Pickle every entry into one buffer; ``address[i]`` is entry i's end."""
        chunks = [pickle.dumps(info, protocol=4) for info in data_list]
        address = np.cumsum([len(c) for c in chunks], dtype=np.int64)
        # A read-only view of the joined bytes: nothing writes to it.
        return np.frombuffer(b''.join(chunks), dtype=np.uint8), address

    # ----------------------------------------------------------- indexing
    def __len__(self) -> int:
        self.full_init()
        if self.serialize_data:
            return len(self.data_address)
        return len(self.data_list)

    def _check_index(self, idx: int) -> int:
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f'{type(self).__name__}: index {idx} is out of '
                             f'range for a dataset of {n} samples')
        return idx % n

    def _entry(self, idx: int) -> dict:
        """A fresh copy of stored entry ``idx`` (0 <= idx < len), nothing added."""
        if self.serialize_data:
            start = int(self.data_address[idx - 1]) if idx > 0 else 0
            end = int(self.data_address[idx])
            return pickle.loads(memoryview(self.data_bytes[start:end]))
        return copy.deepcopy(self.data_list[idx])

    def get_data_info(self, idx: int) -> dict:
        """A fresh copy of entry ``idx``, with ``sample_idx`` (its index >= 0) added."""
        idx = self._check_index(idx)
        data_info = self._entry(idx)
        data_info['sample_idx'] = idx
        return data_info

    def prepare_data(self, idx: int) -> Any:
        """The pipeline's output for entry ``idx`` (``None`` when it failed)."""
        return self.pipeline(self.get_data_info(idx))

    def __getitem__(self, idx: int) -> Any:
        self.full_init()
        return fetch_sample(self, idx)

    # ------------------------------------------------------------ subsets
    def get_subset_(self, indices: int | Sequence[int]) -> None:
        """Keep only ``indices`` (same meaning as the ``indices`` argument), in place."""
        self.full_init()
        if not self.serialize_data:
            self.data_list = self._take(self.data_list, indices)
            return
        positions = self._take(list(range(len(self))), indices)
        infos = [self._entry(i % len(self)) for i in positions]
        self.data_bytes, self.data_address = self._serialize(infos)

    def get_subset(self, indices: int | Sequence[int]) -> 'BaseDataset':
        """A copy of the dataset holding only ``indices``."""
        self.full_init()
        subset = copy.copy(self)
        subset._metainfo = copy.deepcopy(self._metainfo)
        subset.data_list = list(self.data_list)
        subset.get_subset_(indices)
        return subset

    def __repr__(self) -> str:
        size = len(self) if self._fully_initialized else 'not loaded'
        return (f'{type(self).__name__}(ann_file={self.ann_file!r}, '
                f'samples={size}, test_mode={self.test_mode}, '
                f'pipeline={self.pipeline!r})')


def fetch_sample(dataset: Any, idx: int) -> Any:
    """``dataset.prepare_data(idx)``, replacing a failed training sample.

    A pipeline returns None for a sample it cannot use (an unreadable image,
    no keypoint left in the crop). In training that sample is replaced by a
    random one, at most ``dataset.max_refetch`` times; in ``test_mode`` it
    is an error (test samples are never replaced).

    Raises:
        RuntimeError: The sample (test mode), or it and all its
            replacements, failed.
    """
    name = type(dataset).__name__
    if dataset.test_mode:
        data = dataset.prepare_data(idx)
        if data is None:
            raise RuntimeError(
                f'{name}: the pipeline returned None for sample {idx} in test '
                'mode (test samples are never replaced); check its image path '
                'and the pipeline')
        return data
    first = idx
    for _ in range(dataset.max_refetch + 1):
        data = dataset.prepare_data(idx)
        if data is not None:
            return data
        idx = int(np.random.randint(0, len(dataset)))
    raise RuntimeError(
        f'{name}: the pipeline returned None for sample {first} and for '
        f'{dataset.max_refetch} random replacements (max_refetch='
        f'{dataset.max_refetch}); check the image paths and the pipeline')
