"""Check what the main job (tools/quickstart.sh) promises, after it ran.

    python tools/check_quickstart.py work_dirs/quickstart.log
    python tools/check_quickstart.py work_dirs/quickstart-bottomup.log bottomup
    python tools/check_quickstart.py work_dirs/quickstart-onestage.log onestage
    python tools/check_quickstart.py work_dirs/quickstart-lift.log lift

It must have printed COCO AP and, for the top-down model, PCK (numbers in
[0, 1]), written metrics.json with the same values, drawn predictions.jpg (2 x 3 tiles of the
held-out pictures) and left one JSON of 17-keypoint instances per held-out
image from ``posekit infer``. The lifting job (no images) must have printed
MPJPE and P-MPJPE (metres, in (0, 1)), written them to metrics.json and
drawn predictions.jpg: four rows of a 400-pixel input square and the two
400-pixel 3D panels. Exits 1 naming the first broken promise.
"""
import json
import re
import sys
from pathlib import Path

import cv2

VAL = Path('data/synthetic-1k/images/val')  # tools/quickstart.sh's DATA
# mode -> (work dir, metrics printed)
MODES = dict(topdown=(Path('work_dirs/quickstart'), ('coco/AP', 'PCK')),
             bottomup=(Path('work_dirs/quickstart-bottomup'), ('coco/AP', )),
             onestage=(Path('work_dirs/quickstart-onestage'), ('coco/AP', )),
             lift=(Path('work_dirs/quickstart-lift'), ('MPJPE', 'P-MPJPE')))
LIFT_PICTURE = (4 * 400, 3 * 400, 3)   # (h, w, c) of the lift job's picture


def check(log_file: str, mode: str = 'topdown') -> None:
    WORK, names = MODES[mode]
    log = Path(log_file).read_text()
    printed = {}
    for name in names:
        found = re.search(rf'^{re.escape(name)}: ([0-9.]+)$', log, re.MULTILINE)
        if not found:
            sys.exit(f'{log_file}: no "{name}: <value>" line printed')
        printed[name] = float(found.group(1))
        if not 0 <= printed[name] <= 1 or mode == 'lift' and printed[name] == 0:
            sys.exit(f'{log_file}: {name} = {printed[name]} is not in '
                     + ('(0, 1) m' if mode == 'lift' else '[0, 1]'))
    metrics = json.loads((WORK / 'metrics.json').read_text())
    for name, value in printed.items():
        if abs(metrics[name] - value) > 1e-4:
            sys.exit(f'{WORK}/metrics.json: {name} {metrics[name]} != printed {value}')
    picture = cv2.imread(str(WORK / 'predictions.jpg'))
    if mode == 'lift':
        if picture is None or picture.shape != LIFT_PICTURE:
            sys.exit(f'{WORK}/predictions.jpg: missing or not {LIFT_PICTURE} (h, w, c)')
        print(f'main job (lift) checked: MPJPE {printed["MPJPE"]:.4f} m, P-MPJPE '
              f'{printed["P-MPJPE"]:.4f} m, picture {picture.shape[1]}x{picture.shape[0]}')
        return
    tile = cv2.imread(str(next(iter(sorted(VAL.iterdir())))))
    if picture is None or picture.shape != (2 * tile.shape[0], 3 * tile.shape[1], 3):
        sys.exit(f'{WORK}/predictions.jpg: missing or not 2 x 3 tiles of {tile.shape}')
    images = sorted(p.stem for p in VAL.iterdir())
    preds = sorted(p.stem for p in (WORK / 'predictions').glob('*.json'))
    if preds != images:
        sys.exit(f'{WORK}/predictions: {len(preds)} JSON files for {len(images)} images')
    found = 0
    for stem in images:
        instances = json.loads((WORK / 'predictions' / f'{stem}.json').read_text())
        if any(len(i['keypoints']) != 17 for i in instances):
            sys.exit(f'{WORK}/predictions/{stem}.json: an instance without 17 keypoints')
        if mode == 'onestage' and any(len(i.get('bbox', ())) != 4 for i in instances):
            sys.exit(f'{WORK}/predictions/{stem}.json: an instance without its box')
        found += len(instances)
    # every held-out image has figures (top-down: one box each)
    if mode == 'topdown' and found < len(images) or found == 0:
        sys.exit(f'{WORK}/predictions: {found} instances in {len(images)} images')
    scores = ', '.join(f'{n} {v:.3f}' for n, v in printed.items())
    print(f'main job ({mode}) checked: {scores}, {found} instances in '
          f'{len(preds)} predictions, picture {picture.shape[1]}x{picture.shape[0]}')


if __name__ == '__main__':
    check(*sys.argv[1:3])
