"""Dataset meta information: which keypoints a dataset has and how they relate.

A meta file (``configs/_base_/datasets/coco.py``) defines one variable,
``dataset_info``, with ``dataset_name``, ``keypoint_info`` (``{id: dict(name,
id, color, type, swap)}``), ``skeleton_info`` (``{id: dict(link=(name_a,
name_b), id, color)}``), ``joint_weights`` and ``sigmas``. Datasets name it
with ``metainfo=dict(from_file=PATH)`` and get the parsed form below, with
names turned into keypoint ids, as MMPose 1.x's ``parse_pose_metainfo`` gives.

Conventions kept from MMPose because checkpoints and configs depend on them:

* keypoint ``i`` is the ``i``-th channel of every model output of the dataset;
* ``flip_indices[i]`` is the keypoint that ``i`` becomes after a horizontal
  flip (itself when ``swap`` is empty);
* colors are three integers in 0..255, ``np.uint8``, drawn as RGB (MMPose's
  meta files call them ``[B, G, R]``, but its visualizer draws them into RGB
  pictures, and so does posekit's: right-side orange ``[255, 128, 0]``);
* empty ``sigmas`` (or ``joint_weights``) mean "not defined for this dataset"
  (face, hand, 3D sets): they parse to arrays of shape ``(0,)``.

Some of MMPose 1.3.2's own meta files have slips that its loader lets
through; a config run inside an MMPose checkout reads those files, so they
load here too, with one warning per file naming each entry (``QUIRKS``):

* an entry's ``id`` differs from its key (``coco_wholebody_face.py``,
  ``coco_wholebody_openpose.py``, ``deepfashion_full.py``): the key is the
  id, as in MMPose, which ignores ``id``;
* a ``swap`` partner that does not swap back (``deepfashion2.py``'s
  ``vest_kpt9`` -> ``vest_kpt13`` -> nothing): kept one-way, as MMPose's
  ``flip_indices`` have it (posekit's own ``deepfashion2.py`` pairs them);
* fewer ``joint_weights`` than keypoints (``coco_aic.py``,
  ``humanart_aic.py``: 18 for 19): the missing ones are 1.0 (MMPose keeps 18
  and fails if the weights are ever used).

Anything else inconsistent still raises: MMPose could not use it either.
"""
from __future__ import annotations

import copy
import functools
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from posekit.config import Config, shipped_configs_dir

REQUIRED_KEYS = ('dataset_name', 'keypoint_info', 'skeleton_info',
                 'joint_weights', 'sigmas')
BODY_TYPES = ('upper', 'lower', '')
# Colors used when an entry gives none, as MMPose does.
DEFAULT_KEYPOINT_COLOR = (255, 128, 0)
DEFAULT_LINK_COLOR = (96, 96, 255)
INLINE = '<inline metainfo>'


def parse_pose_metainfo(metainfo: Mapping) -> dict:
    """Check a dataset's meta information and derive the id-based tables.

    Args:
        metainfo: Either ``{'from_file': PATH}`` (see :func:`resolve_metainfo_path`
            for where PATH is looked for) or the ``dataset_info`` dict itself
            (``{'dataset_info': {...}}`` is unwrapped too).

    Returns:
        A new dict (callers may modify it), with K keypoints and L links:

        - ``dataset_name`` (str)
        - ``num_keypoints`` (int): K
        - ``keypoint_id2name`` (dict[int, str]), ``keypoint_name2id``
          (dict[str, int])
        - ``upper_body_ids``, ``lower_body_ids`` (list[int]): ids by ``type``
        - ``flip_indices`` (list[int]): length K, the flip partner of each id
        - ``flip_pairs`` (list[tuple[int, int]]): ``(partner_id, id)`` for each
          keypoint with a partner, so both orders of a pair appear
        - ``keypoint_colors`` (np.ndarray): (K, 3) uint8, RGB as drawn
        - ``num_skeleton_links`` (int): L
        - ``skeleton_links`` (list[tuple[int, int]]): keypoint ids of each link
        - ``skeleton_link_colors`` (np.ndarray): (L, 3) uint8, RGB as drawn
        - ``dataset_keypoint_weights`` (np.ndarray): (K,) or (0,) float32
        - ``sigmas`` (np.ndarray): (K,) or (0,) float32, OKS constants
        - ``stats_info`` (dict[str, np.ndarray], float32): only when given

    Raises:
        FileNotFoundError: ``from_file`` names no file in any place looked.
        ValueError: the meta information is inconsistent; the message names
            the file (or ``<inline metainfo>``) and the offending entry.
    """
    if not isinstance(metainfo, Mapping):
        raise TypeError(f'metainfo must be a dict, got {type(metainfo).__name__}')
    if 'from_file' in metainfo:
        return load_metainfo_file(metainfo['from_file'])
    if set(metainfo) == {'dataset_info'}:
        metainfo = metainfo['dataset_info']
    return _parse(metainfo, INLINE)


def load_metainfo_file(path: str | os.PathLike) -> dict:
    """Parse the ``dataset_info`` of a meta file; see :func:`parse_pose_metainfo`.

    Each file is parsed once (until it changes on disk); every call returns
    its own copy.
    """
    resolved = resolve_metainfo_path(path)
    stat = resolved.stat()
    return copy.deepcopy(_load_cached(str(resolved), stat.st_mtime_ns, stat.st_size))


def resolve_metainfo_path(path: str | os.PathLike) -> Path:
    """Find a meta file: the working directory first, then shipped configs.

    Places looked, in order:

    1. ``path`` itself (relative to the current working directory);
    2. under posekit's shipped ``configs/``: ``configs/x/y.py`` as
       ``shipped_configs_dir()/x/y.py``, ``mmpose::x/y.py`` likewise;
    3. ``shipped_configs_dir()/_base_/datasets/<file name>``, the fallback
       MMPose also uses, so a path written for another checkout still works.

    Raises:
        FileNotFoundError: naming ``path`` and every place looked.
    """
    text = os.fspath(path)
    shipped = shipped_configs_dir()
    candidates: list[Path] = []
    if text.startswith('mmpose::'):
        candidates.append(shipped / text[len('mmpose::'):])
    else:
        local = Path(text).expanduser()
        candidates.append(local if local.is_absolute() else Path.cwd() / local)
        parts = Path(text).parts
        if parts and parts[0] == 'configs':
            candidates.append(shipped.joinpath(*parts[1:]))
    candidates.append(shipped / '_base_' / 'datasets' / Path(text).name)
    for candidate in dict.fromkeys(candidates):  # ordered, without repeats
        if candidate.is_file():
            return candidate.resolve()
    looked = ', '.join(str(c) for c in dict.fromkeys(candidates))
    raise FileNotFoundError(f'dataset meta file {text!r} not found; looked at: {looked}')


@functools.lru_cache(maxsize=None)
def _load_cached(path: str, mtime_ns: int, size: int) -> dict:
    # mtime and size are part of the key so an edited file is read again.
    cfg = Config.fromfile(path)
    if 'dataset_info' not in cfg:
        raise ValueError(f'{path}: a dataset meta file must define `dataset_info`')
    return _parse(cfg['dataset_info'].to_dict(), path)


def _parse(info: Mapping, source: str) -> dict:
    missing = [k for k in REQUIRED_KEYS if k not in info]
    if missing:
        raise ValueError(f'{source}: dataset_info lacks required keys {missing}')
    quirks: list[str] = []
    keypoints = _check_keypoints(info['keypoint_info'], source, quirks)
    num = len(keypoints)
    name2id = {kpt['name']: kid for kid, kpt in keypoints}
    links = _check_links(info['skeleton_info'], name2id, source)

    flip_indices, flip_pairs = [], []
    for kid, kpt in keypoints:
        swap = kpt.get('swap', '') or kpt['name']
        flip_indices.append(name2id[swap])
        pair = (name2id[swap], kid)
        if swap != kpt['name'] and pair not in flip_pairs:
            flip_pairs.append(pair)

    parsed = dict(
        dataset_name=info['dataset_name'],
        num_keypoints=num,
        keypoint_id2name={kid: kpt['name'] for kid, kpt in keypoints},
        keypoint_name2id=name2id,
        upper_body_ids=[kid for kid, k in keypoints if k.get('type', '') == 'upper'],
        lower_body_ids=[kid for kid, k in keypoints if k.get('type', '') == 'lower'],
        flip_indices=flip_indices,
        flip_pairs=flip_pairs,
        keypoint_colors=_colors([k.get('color', DEFAULT_KEYPOINT_COLOR)
                                 for _, k in keypoints]),
        num_skeleton_links=len(links),
        skeleton_links=[ids for ids, _ in links],
        skeleton_link_colors=_colors([color for _, color in links]),
        dataset_keypoint_weights=_joint_weights(info, num, source, quirks),
        sigmas=_per_keypoint(info, 'sigmas', num, source),
    )
    if 'stats_info' in info:
        parsed['stats_info'] = {name: np.array(value, dtype=np.float32)
                                for name, value in info['stats_info'].items()}
    if quirks:
        # files are parsed once (cached), so this is one warning per file
        warnings.warn(f'{source}: loaded despite slips that MMPose lets through: '
                      + '; '.join(quirks),
                      stacklevel=2)
    return parsed


def _check_keypoints(keypoint_info: Any, source: str, quirks: list[str]
                     ) -> list[tuple[int, dict]]:
    """Validate ``keypoint_info``; return ``[(id, entry)]`` sorted by id.

    The slips MMPose accepts (module docstring) are appended to ``quirks``.
    """
    if not isinstance(keypoint_info, Mapping):
        raise ValueError(f'{source}: keypoint_info must be a dict {{id: dict(...)}}')
    keys = list(keypoint_info)
    if any(type(k) is not int for k in keys) or sorted(keys) != list(range(len(keys))):
        raise ValueError(f'{source}: keypoint_info keys must be the ids 0..K-1 '
                         f'(K={len(keys)}), got {keys}')
    names: dict[str, int] = {}
    for kid in sorted(keys):
        kpt = keypoint_info[kid]
        where = f'{source}: keypoint_info[{kid}]'
        if not isinstance(kpt, Mapping) or 'name' not in kpt:
            raise ValueError(f'{where} must be a dict with a `name`')
        if 'id' in kpt and kpt['id'] != kid:
            quirks.append(f"keypoint_info[{kid}] ({kpt['name']!r}) has "
                          f"id={kpt['id']!r}: its key {kid} is its id")
        if kpt['name'] in names:
            raise ValueError(f"{where}: duplicate keypoint name {kpt['name']!r} "
                             f"(also keypoint {names[kpt['name']]})")
        names[kpt['name']] = kid
        if kpt.get('type', '') not in BODY_TYPES:
            raise ValueError(f"{where} ({kpt['name']!r}): type {kpt['type']!r} "
                             f"is not one of {list(BODY_TYPES)}")
        _check_color(kpt.get('color', DEFAULT_KEYPOINT_COLOR), where)
    for kid in sorted(keys):
        kpt = keypoint_info[kid]
        swap = kpt.get('swap', '')
        if not swap or swap == kpt['name']:
            continue
        where = f"{source}: keypoint_info[{kid}] ({kpt['name']!r})"
        if swap not in names:
            raise ValueError(f'{where}: swap partner {swap!r} is not a keypoint '
                             f'of this dataset')
        back = keypoint_info[names[swap]].get('swap', '')
        if back != kpt['name']:
            partner = f'with {back!r}' if back else 'with no keypoint'
            quirks.append(f"keypoint_info[{kid}] ({kpt['name']!r}) swaps with "
                          f'{swap!r}, which swaps {partner}: flipped one way only')
    return [(kid, keypoint_info[kid]) for kid in sorted(keys)]


def _check_links(skeleton_info: Any, name2id: dict[str, int], source: str
                 ) -> list[tuple[tuple[int, int], Any]]:
    """Validate ``skeleton_info``; return ``[((id_a, id_b), color)]`` in order."""
    if not isinstance(skeleton_info, Mapping):
        raise ValueError(f'{source}: skeleton_info must be a dict {{id: dict(link=...)}}')
    links = []
    for key, entry in skeleton_info.items():
        where = f'{source}: skeleton_info[{key}]'
        link = entry.get('link') if isinstance(entry, Mapping) else None
        if not isinstance(link, (tuple, list)) or len(link) != 2:
            raise ValueError(f'{where} needs link=(name_a, name_b), got {link!r}')
        for name in link:
            if name not in name2id:
                raise ValueError(f'{where}: link {tuple(link)} names unknown '
                                 f'keypoint {name!r}')
        color = entry.get('color', DEFAULT_LINK_COLOR)
        _check_color(color, where)
        links.append(((name2id[link[0]], name2id[link[1]]), color))
    return links


def _check_color(color: Any, where: str) -> None:
    ok = (isinstance(color, (list, tuple)) and len(color) == 3
          and all(isinstance(c, (int, np.integer)) and 0 <= c <= 255 for c in color))
    if not ok:
        raise ValueError(f'{where}: color must be three integers in 0..255, '
                         f'got {color!r}')


def _colors(colors: list) -> np.ndarray:
    return np.array(colors, dtype=np.uint8).reshape(-1, 3)


def _joint_weights(info: Mapping, num: int, source: str,
                   quirks: list[str]) -> np.ndarray:
    """``joint_weights`` as (K,) or (0,) float32; fewer than K are padded
    with 1.0 (a quirk, see the module docstring)."""
    given = len(info['joint_weights']) if isinstance(
        info['joint_weights'], (list, tuple)) else None
    if given is not None and 0 < given < num:
        quirks.append(f'joint_weights has {given} values for {num} keypoints: '
                      f'the missing {num - given} set to 1.0')
        return np.array(list(info['joint_weights']) + [1.0] * (num - given),
                        dtype=np.float32)
    return _per_keypoint(info, 'joint_weights', num, source)


def _per_keypoint(info: Mapping, key: str, num: int, source: str) -> np.ndarray:
    values = np.array(info[key], dtype=np.float32)
    if values.ndim != 1 or len(values) not in (0, num):
        raise ValueError(f'{source}: {key} has {len(info[key])} values for '
                         f'{num} keypoints (give one per keypoint, or none)')
    return values
