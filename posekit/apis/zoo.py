"""MMPose's model zoo by name: ``init_model('human')``, ``posekit models``.

``posekit/model_index.json`` (written by ``tools/make_model_index.py`` from
MMPose 1.3.2's metafiles) lists every published model that has weights:
its name, task, aliases, config path, weights URL, training data, input size
(``[w, h]`` pixels), published results and, for a top-down 2D model, the
person / face / hand / animal detector MMPose's inferencer pairs with it
(``detector``: ``alias``, mmdet ``config`` name, ``weights`` URL,
``cat_ids``; posekit's inferencer does not run it by itself). A model is
found by

* its name (``'rtmpose-m_8xb256-420e_body8-256x192'``), any case;
* its config file's stem (``'td-hm_res50_8xb64-210e_coco-256x192'``);
* an alias (``'human'``, ``'vitpose-b'``, ``'wholebody'``...); where MMPose
  gives one alias to several models (``'face'``, ``'wholebody'``), the first
  in its index wins, as in MMPose's inferencer.

Configs posekit ships itself (``posekit_config`` in the index) are used as
they are; any other is MMPose v1.3.2's file, downloaded with its ``_base_``
files from ``POSEKIT_CONFIG_URL`` (default: the tag on GitHub) into
``<hub cache>/../posekit_configs/<source>/``, laid out as MMPose's
``configs/`` folder so relative ``_base_`` paths resolve there. Nothing is
fetched twice, and nothing at import time.
"""
from __future__ import annotations

import copy
import difflib
import functools
import json
import os
from pathlib import Path, PurePosixPath

from posekit.config import Config, shipped_configs_dir
from posekit.config.remote import MMPOSE_CONFIG_URL, fetch_chain

INDEX_FILE = Path(__file__).resolve().parent.parent / 'model_index.json'
CONFIG_URL_ENV = 'POSEKIT_CONFIG_URL'
TASKS = ('body2d', 'body3d', 'hand2d', 'hand3d', 'face2d', 'animal2d', 'wholebody2d',
         'fashion2d')


@functools.lru_cache(maxsize=1)
def _index() -> tuple[tuple[dict, ...], dict[str, dict]]:
    """(entries in index order, lower-case name / config stem / alias -> entry)."""
    with open(INDEX_FILE, encoding='utf-8') as f:
        doc = json.load(f)
    entries = tuple(doc['models'])
    for entry in entries:  # the detector's key -> its record, named by the key
        if 'detector' in entry:
            entry['detector'] = dict(alias=entry['detector'],
                                     **doc['detectors'][entry['detector']])
    lookup: dict[str, dict] = {}
    # names first, then config stems, then aliases: a name is never shadowed
    for keys in (lambda e: [e['name']], lambda e: [PurePosixPath(e['config']).stem],
                 lambda e: e['aliases']):
        for entry in entries:
            for key in keys(entry):
                lookup.setdefault(key.lower(), entry)
    return entries, lookup


def _find(name_or_alias: str) -> dict:
    if not isinstance(name_or_alias, str):
        raise TypeError(f'model name must be a str, got {type(name_or_alias).__name__}')
    _, lookup = _index()
    key = name_or_alias.lower()
    if key.endswith('.py'):
        key = key[:-3]
    entry = lookup.get(key)
    if entry is None:
        close = difflib.get_close_matches(key, list(lookup), n=3, cutoff=0.6)
        hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
        raise ValueError(f'{name_or_alias!r} is not a model name, config name or alias '
                         f'of the model index ({INDEX_FILE.name}).{hint} '
                         '`posekit models` lists them.')
    return entry


def is_model_name(value: object) -> bool:
    """Whether ``value`` names an index model (and is not an existing file)."""
    if not isinstance(value, str) or os.path.exists(value):
        return False
    try:
        _find(value)
    except ValueError:
        return False
    return True


def model_info(name_or_alias: str) -> dict:
    """The index entry of a model (a copy; see the module docstring).

    Raises:
        ValueError: Unknown name; the message suggests close ones.
    """
    return copy.deepcopy(_find(name_or_alias))


def list_models(task: str | None = None, search: str | None = None) -> list[dict]:
    """Index entries (copies) in index order.

    Args:
        task (str, optional): Keep one task (``'body2d'``, ``'hand2d'``...).
        search (str, optional): Keep entries whose name, config path, alias
            or training data contains this text (any case).
    """
    if task is not None and task not in TASKS:
        raise ValueError(f'task {task!r}: expected one of {TASKS}')
    needle = None if search is None else search.lower()
    out = []
    for entry in _index()[0]:
        if task is not None and entry['task'] != task:
            continue
        if needle is not None:
            text = ' '.join([entry['name'], entry['config'], *entry['aliases'],
                             *entry['training_data']]).lower()
            if needle not in text:
                continue
        out.append(copy.deepcopy(entry))
    return out


def model_weights(name_or_alias: str) -> str:
    """The checkpoint URL of a model (posekit's checkpoint reader downloads it)."""
    return _find(name_or_alias)['weights']


def model_config(name_or_alias: str, base_url: str | None = None) -> str:
    """A local config file of a model.

    Args:
        name_or_alias (str): Model name, config stem or alias.
        base_url (str, optional): Where MMPose's ``configs/`` folder is
            served; default ``$POSEKIT_CONFIG_URL``, else MMPose v1.3.2's
            on GitHub. Unused for the configs posekit ships.

    Raises:
        ValueError: Unknown model, or one whose metafile names a config
            MMPose 1.3.2 does not have.
        posekit.hub.DownloadError (or the hub's offline error): the config
            or one of its ``_base_`` files cannot be fetched.
    """
    entry = _find(name_or_alias)
    if entry.get('posekit_config'):
        return str(shipped_configs_dir() / entry['posekit_config'])
    if entry.get('config_missing'):
        raise ValueError(f"model {entry['name']!r}: MMPose 1.3.2's metafile names the "
                         f"config {entry['config']!r}, which MMPose does not ship")
    base_url = base_url or os.environ.get(CONFIG_URL_ENV) or MMPOSE_CONFIG_URL
    return fetch_chain(entry['config'], base_url)


def missing_types(config: Config | str) -> list[str]:
    """The model type names of a config posekit does not implement.

    Looks at ``model.type`` and the ``type`` of its ``backbone``, ``neck``
    (one or a list) and ``head``; empty when posekit can build all of them.
    """
    from posekit.registry import MODELS
    cfg = Config.fromfile(config) if isinstance(config, (str, os.PathLike)) else config
    model = cfg.get('model') or {}
    parts = [model]
    for key in ('backbone', 'neck', 'head'):
        value = model.get(key)
        parts.extend(value if isinstance(value, (list, tuple)) else [value])
    names = [p['type'] for p in parts if isinstance(p, dict) and isinstance(p.get('type'), str)]
    return [n for n in names if n not in MODELS]


def resolve_model(config: object, weights: str | os.PathLike | None = None) -> tuple:
    """``(config, weights)`` for ``init_model``: a model name or alias becomes
    its config file and (when ``weights`` is None) its weights URL; anything
    else is returned unchanged.

    Raises:
        NotImplementedError: The model's config names types posekit lacks.
    """
    if not is_model_name(config):
        return config, weights
    entry = _find(config)
    path = model_config(config)
    missing = missing_types(path)
    if missing:
        raise NotImplementedError(f"model {entry['name']!r} ({entry['config']}): posekit "
                                  f"does not implement {', '.join(missing)}")
    return path, entry['weights'] if weights is None else weights
