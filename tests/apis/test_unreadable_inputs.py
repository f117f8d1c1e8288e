"""Batch inference skips what it cannot read, names it, and runs the rest;
grayscale, BGRA and 16-bit images are converted, not rejected.

The model has seeded random weights (conftest ``random_model``), so equal
predictions mean equal input pixels.
"""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.apis import PoseInferencer, inference_topdown, init_model
from posekit.apis.sources import Skipped, SkippedInputWarning

ROOT = Path(__file__).resolve().parents[2]
COCO = ROOT / 'tests/data/fixtures/coco'
FIRST, SECOND = COCO / '000000000785.jpg', COCO / '000000040083.jpg'


@pytest.fixture(scope='module')
def inferencer(random_model):
    return PoseInferencer(random_model.config, random_model.checkpoint, device='cpu')


def _predictions(inferencer, inputs, **kwargs):
    return [r['predictions'] for r in inferencer(inputs, **kwargs)]


def test_folder_with_a_truncated_jpeg_between_good_ones(inferencer, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    shutil.copy(FIRST, folder / 'a.jpg')
    data = (COCO / '000000196141.jpg').read_bytes()
    (folder / 'b.jpg').write_bytes(data[:len(data) // 2])  # truncated
    (folder / 'c.png').write_bytes(b'not a png')
    shutil.copy(SECOND, folder / 'd.jpg')
    out = tmp_path / 'preds'
    with pytest.warns(SkippedInputWarning) as record:
        results = list(inferencer(str(folder), pred_out_dir=str(out)))
    bad_b, bad_c = str(folder / 'b.jpg'), str(folder / 'c.png')
    reason = 'cannot decode image file {}: it is empty or not an image format OpenCV can read'
    assert [str(w.message) for w in record if w.category is SkippedInputWarning] == [
        f'skipping {reason.format(bad_b)}', f'skipping {reason.format(bad_c)}',
        f'PoseInferencer: skipped 2 input(s) that could not be read: {bad_b}, {bad_c}; '
        'the other inputs ran']
    assert inferencer.skipped == [Skipped(bad_b, reason.format(bad_b)),
                                  Skipped(bad_c, reason.format(bad_c))]
    assert [r['name'] for r in results] == ['a.jpg', 'd.jpg']
    assert sorted(p.name for p in out.iterdir()) == ['a.json', 'd.json']
    # the good ones are predicted exactly as when run alone
    assert [r['predictions'] for r in results] == \
        _predictions(inferencer, str(FIRST)) + _predictions(inferencer, str(SECOND))
    assert inferencer.skipped == []  # a new call starts a new list


def test_glob_with_a_video_that_cannot_be_opened(inferencer, tmp_path):
    shutil.copy(FIRST, tmp_path / 'a.jpg')
    (tmp_path / 'b.mp4').write_bytes(b'\x00' * 64)
    shutil.copy(SECOND, tmp_path / 'c.jpg')
    with pytest.warns(SkippedInputWarning) as record:
        names = [r['name'] for r in inferencer(str(tmp_path / '*'))]
    video = tmp_path / 'b.mp4'
    assert [str(w.message) for w in record if w.category is SkippedInputWarning] == [
        f'skipping video {video}: OpenCV cannot open it',
        f'PoseInferencer: skipped 1 input(s) that could not be read: {video}; '
        'the other inputs ran']
    assert names == ['a.jpg', 'c.jpg']
    assert [s.path for s in inferencer.skipped] == [str(tmp_path / 'b.mp4')]


def _variants(tmp_path):
    """(file, its 8-bit BGR conversion, the raw array) for each kind."""
    bgr = cv2.imread(str(FIRST))
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    alpha = np.random.default_rng(0).integers(0, 256, bgr.shape[:2], dtype=np.uint8)
    bgra = np.dstack([bgr, alpha])
    deep = bgr.astype(np.uint16) * 257  # 8-bit values stretched to 16 bits
    out = []
    for name, raw, converted in (('gray.png', gray, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)),
                                 ('bgra.png', bgra, bgr), ('deep.png', deep, bgr)):
        cv2.imwrite(str(tmp_path / name), raw)
        out.append((str(tmp_path / name), converted, raw))
    return out


def test_grayscale_rgba_and_16_bit_inputs_are_converted(inferencer, tmp_path):
    for path, converted, raw in _variants(tmp_path):
        expected = _predictions(inferencer, converted)
        assert _predictions(inferencer, path) == expected, path
        assert _predictions(inferencer, raw) == expected, path
        assert inferencer.skipped == []


def test_inference_topdown_converts_arrays_and_files(random_model, tmp_path):
    model = init_model(random_model.config, random_model.checkpoint)
    box = np.array([[280.79, 44.73, 499.49, 391.41]])
    for path, converted, raw in _variants(tmp_path):
        want = inference_topdown(model, converted, box)[0].pred_instances
        for img in (path, raw):
            got = inference_topdown(model, img, box)[0].pred_instances
            np.testing.assert_array_equal(got.keypoints, want.keypoints)
            np.testing.assert_array_equal(got.keypoint_scores, want.keypoint_scores)


def test_float_arrays_are_still_refused(inferencer):
    with pytest.raises(ValueError, match=r'uint8 or uint16; got \(4, 4, 3\) float32'):
        list(inferencer(np.zeros((4, 4, 3), np.float32)))


def test_json_of_skipped_inputs_is_not_written(inferencer, tmp_path):
    (tmp_path / 'bad.jpg').write_bytes(b'')
    with pytest.warns(SkippedInputWarning, match='bad.jpg'):
        assert list(inferencer(str(tmp_path / 'bad.jpg'), pred_out_dir=str(tmp_path / 'o'))) \
            == []
    assert not (tmp_path / 'o').exists() or not list((tmp_path / 'o').iterdir())
    assert [s.path for s in inferencer.skipped] == [str(tmp_path / 'bad.jpg')]


def test_posekit_infer_exits_1_when_it_skipped_something(random_model, tmp_path, capsys):
    from posekit.cli import main
    folder = tmp_path / 'images'
    folder.mkdir()
    shutil.copy(FIRST, folder / 'a.jpg')
    (folder / 'b.jpg').write_bytes(FIRST.read_bytes()[:1000])  # truncated
    out = tmp_path / 'preds'
    args = ['infer', str(folder), '--pose2d', random_model.config, '--pose2d-weights',
            random_model.checkpoint, '--pred-out-dir', str(out), '--no-progress']
    with pytest.warns(SkippedInputWarning):
        assert main(args) == 1
    assert sorted(p.name for p in out.iterdir()) == ['a.json']
    err = capsys.readouterr().err
    assert 'posekit infer: 1 input(s) could not be read (named above); the others ran' in err
    (folder / 'b.jpg').unlink()
    assert main(args) == 0
