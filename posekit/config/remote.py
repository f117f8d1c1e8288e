"""Config files fetched by URL: MMPose's (the model zoo's models whose
config posekit does not ship) and MMDetection's, for ``_base_ = 'mmdet::PATH'``.

MMPose's detector configs (``demo/mmdetection_cfg/``) inherit from
MMDetection's: ``_base_ = 'mmdet::rtmdet/rtmdet_m_8xb32-300e_coco.py'``.
posekit resolves ``mmdet::PATH`` to

1. ``configs/mmdet/PATH`` when posekit ships that file, else
2. MMDetection v3.3.0's ``configs/PATH``, downloaded with the files its
   relative ``_base_`` entries name (recursively) from
   ``$POSEKIT_MMDET_CONFIG_URL`` (default: the v3.3.0 tag on GitHub) through
   :func:`posekit.hub.download` into
   ``<hub cache>/../posekit_configs/mmdet-v3.3.0/`` (another URL: a folder
   named by its hash), laid out as MMDetection's ``configs/`` folder so the
   relative paths resolve there. A cached file is never fetched again;
   with ``POSEKIT_OFFLINE=1`` a missing one is an error naming the URL and
   the path to put it at.

posekit builds only the RTMDet / YOLOX detectors of such configs, for
inference (:func:`posekit.apis.detector.init_detector`).
"""
from __future__ import annotations

import ast
import hashlib
import os
from pathlib import Path, PurePosixPath

from posekit import hub
from posekit.errors import ConfigError
from .base_refs import pop_base_assignment

MMDET_URL_ENV = 'POSEKIT_MMDET_CONFIG_URL'
MMDET_CONFIG_URL = 'https://raw.githubusercontent.com/open-mmlab/mmdetection/v3.3.0/configs/'
MMPOSE_CONFIG_URL = 'https://raw.githubusercontent.com/open-mmlab/mmpose/v1.3.2/configs/'
# cache folder of each known source; another URL gets a folder named by its hash
SOURCES = {MMDET_CONFIG_URL: 'mmdet-v3.3.0', MMPOSE_CONFIG_URL: 'mmpose-v1.3.2'}


def mmdet_config(rel_path: str, shipped_root: Path, asked_by: str = '') -> str:
    """The local file of MMDetection's ``configs/<rel_path>`` (see the module
    docstring); ``asked_by`` names the config whose ``_base_`` it is."""
    shipped = shipped_root / 'mmdet' / rel_path
    if shipped.is_file():
        return str(shipped)
    base_url = os.environ.get(MMDET_URL_ENV) or MMDET_CONFIG_URL
    try:
        return fetch_chain(rel_path, base_url)
    except (hub.DownloadError, ValueError) as e:
        who = f'{asked_by}: ' if asked_by else ''
        raise ConfigError(f"{who}_base_ 'mmdet::{rel_path}': posekit does not ship "
                          f'configs/mmdet/{rel_path}, and {e}') from e


def fetch_chain(rel_path: str, base_url: str) -> str:
    """Download ``base_url + rel_path`` and its relative ``_base_`` files
    (recursively) into :func:`cache_root`; return the first one's path."""
    if not base_url.endswith('/'):
        base_url += '/'
    root = cache_root(base_url)
    todo, seen = [rel_path], set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        local = root / rel
        if not local.is_file():
            hub.download(base_url + rel, dest_dir=str(local.parent), check_hash=False,
                         progress=False)
        todo.extend(relative_bases(local, rel))
    return str(root / rel_path)


def cache_root(base_url: str) -> Path:
    """One cache folder per config source, beside the checkpoint cache."""
    base_url = base_url.rstrip('/') + '/'
    source = SOURCES.get(base_url) or 'url-' + hashlib.sha256(base_url.encode()).hexdigest()[:12]
    return Path(hub.cache_dir()).parent / 'posekit_configs' / source


def relative_bases(local: Path, rel: str) -> list[str]:
    """The relative ``_base_`` entries of a downloaded config, as paths under
    ``configs/`` (``scope::path`` entries are resolved when loaded)."""
    try:
        tree = ast.parse(local.read_text(encoding='utf-8'), filename=str(local))
    except SyntaxError as e:
        raise ValueError(f'{local} is not a Python config (line {e.lineno}: {e.msg}); '
                         'delete it to download it again') from e
    refs, _ = pop_base_assignment(tree, str(local))
    out = []
    for ref in refs:
        if '::' in ref:
            continue
        path = os.path.normpath(str(PurePosixPath(rel).parent / ref)).replace(os.sep, '/')
        if path.startswith('..'):
            raise ValueError(f'{local}: _base_ {ref!r} points outside configs/')
        out.append(path)
    return out
