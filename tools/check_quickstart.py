"""Check what the main job (tools/quickstart.sh) promises, after it ran.

    python tools/check_quickstart.py work_dirs/quickstart.log

It must have printed COCO AP and PCK (numbers in [0, 1]), written
metrics.json with the same values, drawn predictions.jpg (2 x 3 tiles of the
held-out pictures) and left one JSON of 17-keypoint instances per held-out
image from ``posekit infer``. Exits 1 naming the first broken promise.
"""
import json
import re
import sys
from pathlib import Path

import cv2

WORK = Path('work_dirs/quickstart')
VAL = Path('data/synthetic-1k/images/val')  # tools/quickstart.sh's DATA


def check(log_file: str) -> None:
    log = Path(log_file).read_text()
    printed = {}
    for name in ('coco/AP', 'PCK'):
        found = re.search(rf'^{re.escape(name)}: ([0-9.]+)$', log, re.MULTILINE)
        if not found:
            sys.exit(f'{log_file}: no "{name}: <value>" line printed')
        printed[name] = float(found.group(1))
        if not 0 <= printed[name] <= 1:
            sys.exit(f'{log_file}: {name} = {printed[name]} is not in [0, 1]')
    metrics = json.loads((WORK / 'metrics.json').read_text())
    for name, value in printed.items():
        if abs(metrics[name] - value) > 1e-4:
            sys.exit(f'{WORK}/metrics.json: {name} {metrics[name]} != printed {value}')
    picture = cv2.imread(str(WORK / 'predictions.jpg'))
    tile = cv2.imread(str(next(iter(sorted(VAL.iterdir())))))
    if picture is None or picture.shape != (2 * tile.shape[0], 3 * tile.shape[1], 3):
        sys.exit(f'{WORK}/predictions.jpg: missing or not 2 x 3 tiles of {tile.shape}')
    images = sorted(p.stem for p in VAL.iterdir())
    preds = sorted(p.stem for p in (WORK / 'predictions').glob('*.json'))
    if preds != images:
        sys.exit(f'{WORK}/predictions: {len(preds)} JSON files for {len(images)} images')
    for stem in images[:5]:
        instances = json.loads((WORK / 'predictions' / f'{stem}.json').read_text())
        if not instances or any(len(i['keypoints']) != 17 for i in instances):
            sys.exit(f'{WORK}/predictions/{stem}.json: no 17-keypoint instances')
    print(f'main job checked: coco/AP {printed["coco/AP"]:.3f}, PCK {printed["PCK"]:.3f}, '
          f'{len(preds)} predictions, picture {picture.shape[1]}x{picture.shape[0]}')


if __name__ == '__main__':
    check(sys.argv[1])
