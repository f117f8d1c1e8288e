"""Write ``posekit/model_index.json`` from MMPose 1.3.2's model index (a dev tool).

Run by hand, with any Python that has PyYAML (it reads YAML files only and
imports nothing of MMPose)::

    python tools/make_model_index.py /path/to/mmpose/.mim [posekit/model_index.json]

``.mim`` is the folder of an installed MMPose 1.3.2 that holds
``model-index.yml`` and ``configs/``. Every metafile ``model-index.yml``
imports is read; each model that has weights becomes one entry:

* ``name``: MMPose's model name (its config file stem);
* ``task``: ``body2d``, ``body3d``, ``hand2d``, ``hand3d``, ``face2d``,
  ``animal2d``, ``wholebody2d`` or ``fashion2d``, from the config's top folder;
* ``aliases``: MMPose's ``Alias`` field (a list, maybe empty);
* ``config``: the config path relative to MMPose's ``configs/`` folder
  (``config_missing: true`` where MMPose 1.3.2 ships no such file: its
  metafile names a 0.x path);
* ``weights``: the checkpoint URL;
* ``training_data``: the metafile's ``Training Data`` (a list);
* ``input_size``: ``[w, h]`` in pixels, read from the name's last ``HxW``
  (MMPose names write height first); null when the name has none (pose
  lifters, YOLOX-Pose);
* ``results``: ``[{"dataset": ..., "task": ..., "metrics": {...}}]`` as
  published (AP in [0, 1], NME, MPJPE in mm...);
* ``posekit_config``: the path under posekit's ``configs/`` when posekit
  ships the same config, else absent;
* ``detector``: for a top-down 2D model, the key in the file's
  ``detectors`` table (config name, weights URL, category ids) of the
  detector MMPose's inferencer runs with it; absent for bottom-up, one-stage,
  fashion and 3D models.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

_TASKS = {'body_2d_keypoint': 'body2d', 'body_3d_keypoint': 'body3d',
          'hand_2d_keypoint': 'hand2d', 'hand_3d_keypoint': 'hand3d',
          'face_2d_keypoint': 'face2d', 'animal_2d_keypoint': 'animal2d',
          'wholebody_2d_keypoint': 'wholebody2d', 'fashion_2d_keypoint': 'fashion2d'}

# MMPose 1.3.2 mmpose/apis/inferencers/utils/default_det_models.py: the
# detector its inferencer runs for a top-down model, chosen by the folder of
# the config's dataset class (body, wholebody -> person; face; hand; animal).
# Fashion and 3D datasets get none (the whole image is the box).
_RTMDET_PERSON = dict(
    config='rtmdet_m_640-8xb32_coco-person',
    weights='https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/'
            'rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth',
    cat_ids=[0])
DETECTORS = {
    'human': _RTMDET_PERSON,
    'face': dict(config='yolox-s_8xb8-300e_coco-face',
                 weights='https://download.openmmlab.com/mmpose/mmdet_pretrained/'
                         'yolo-x_8xb8-300e_coco-face_13274d7c.pth', cat_ids=[0]),
    'hand': dict(config='rtmdet_nano_320-8xb32_hand',
                 weights='https://download.openmmlab.com/mmpose/v1/projects/'
                         'rtmposev1/rtmdet_nano_8xb32-300e_hand-267f9c8f.pth',
                 cat_ids=[0]),
    # MMPose names mmdet's COCO RTMDet-m (weights: mmdet's own model index)
    'animal': dict(config='rtmdet-m', weights=None,
                   cat_ids=[15, 16, 17, 18, 19, 20, 21, 22, 23]),
}
_TASK_DETECTOR = {'body2d': 'human', 'wholebody2d': 'human', 'face2d': 'face',
                  'hand2d': 'hand', 'animal2d': 'animal'}
# algorithm folders of models that find people themselves (data_mode bottomup)
_BOTTOMUP = ('associative_embedding', 'cid', 'dekr', 'edpose', 'rtmo', 'yoloxpose')


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _input_size(name: str) -> list[int] | None:
    # the last 'HxW' of two to four digits each ('8xb64' and '8x64e' are not)
    found = re.findall(r'(?<![0-9])(\d{2,4})x(\d{2,4})(?![0-9])', name)
    if not found:
        return None
    h, w = found[-1]
    return [int(w), int(h)]


def _config_path(model: dict, mim: Path) -> tuple[str, bool]:
    """(path under configs/, whether MMPose 1.3.2 ships that file).

    A few metafiles still give MMPose 0.x paths; a file of the same name
    elsewhere under configs/ (if exactly one) is the 1.x config.
    """
    config = model['Config'].removeprefix('configs/')
    if (mim / 'configs' / config).is_file():
        return config, True
    found = sorted((mim / 'configs').rglob(Path(config).name))
    if len(found) == 1:
        return str(found[0].relative_to(mim / 'configs')), True
    return config, False


def _entry(model: dict, metafile: str, mim: Path, posekit_configs: Path) -> dict:
    config, config_found = _config_path(model, mim)
    # the task from the metafile's folder: some Config fields are 0.x paths
    top = metafile.removeprefix('configs/').split('/')[0]
    if top not in _TASKS:
        raise ValueError(f'{metafile}: model {model["Name"]}: unknown task folder {top!r}')
    meta = model.get('Metadata') or {}
    aliases = [str(a) for a in _as_list(model.get('Alias'))]
    entry = dict(
        name=model['Name'], task=_TASKS[top], aliases=aliases, config=config,
        weights=model['Weights'],
        training_data=[str(d) for d in _as_list(meta.get('Training Data'))],
        input_size=_input_size(model['Name']),
        results=[dict(dataset=r.get('Dataset'), task=r.get('Task'),
                      metrics=dict(r.get('Metrics') or {}))
                 for r in _as_list(model.get('Results'))])
    if not config_found:
        entry['config_missing'] = True  # MMPose 1.3.2 has no such file
    if (posekit_configs / config).is_file():
        entry['posekit_config'] = config
    if entry['task'] in _TASK_DETECTOR and config.split('/')[1] not in _BOTTOMUP:
        entry['detector'] = _TASK_DETECTOR[entry['task']]
    return entry


def build_index(mim: Path, posekit_configs: Path) -> list[dict]:
    """All entries with weights, in model-index.yml's metafile order."""
    index = yaml.safe_load((mim / 'model-index.yml').read_text())
    by_name: dict[str, dict] = {}
    for metafile in index['Import']:
        data = yaml.safe_load((mim / metafile).read_text()) or {}
        for model in data.get('Models') or []:
            if model.get('Weights'):
                _add(by_name, _entry(model, metafile, mim, posekit_configs), metafile)
    return list(by_name.values())


def _add(by_name: dict[str, dict], entry: dict, metafile: str) -> None:
    """Add ``entry``, keeping names unique.

    MMPose's metafiles publish some models twice under one name: the same
    weights with a second table of results (JHMDB, PoseTrack18: merged
    here), or another model under a copied name whose config stem is right
    (RTMPose CrowdPose: named after its config here).
    """
    name = entry['name']
    old = by_name.get(name)
    if old is not None and old['weights'] == entry['weights']:
        old['results'].extend(entry['results'])
        return
    if old is not None:
        stem = Path(entry['config']).stem
        if stem == name or stem in by_name:
            raise ValueError(f'{metafile}: model name {name!r} published twice')
        entry['name'] = stem
        entry['input_size'] = _input_size(stem)
    by_name[entry['name']] = entry


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    repo = Path(__file__).resolve().parent.parent
    out = Path(argv[1]) if len(argv) > 1 else repo / 'posekit' / 'model_index.json'
    entries = build_index(Path(argv[0]), repo / 'configs')
    doc = dict(source='MMPose 1.3.2 model-index.yml and its metafiles',
               config_root='https://raw.githubusercontent.com/open-mmlab/mmpose/v1.3.2/configs/',
               detectors=DETECTORS, models=entries)
    out.write_text(json.dumps(doc, indent=1) + '\n')
    print(f'{out}: {len(entries)} models')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
