"""Batched top-down inference and the prefetching frame reader.

``batch_size=N`` runs the boxes of N frames as one network batch; a
background thread decodes frames ahead. Neither may change what comes out:
the same predictions (the conftest's seeded random model, whose keypoints
depend on the pixels, so equal outputs mean equal crops), files, skipped
inputs and warnings, in the same order, as ``batch_size=1``. Batched
convolutions may round differently (oneDNN picks kernels by batch size):
keypoints agree to 1e-3 px, scores to 1e-5.
"""
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.apis import PoseInferencer, inference_topdown, inference_topdown_batch, init_model
from posekit.apis.batching import check_batch_size, iter_batches
from posekit.apis.sources import Frame, SkippedInputWarning, iter_frames
from posekit.cli import main

ROOT = Path(__file__).resolve().parents[2]
COCO = ROOT / 'tests/data/fixtures/coco'
IMAGES = sorted(COCO.glob('*.jpg'))  # 4 images
READER = 'posekit-frame-reader'


@pytest.fixture(scope='module')
def inferencer(random_model):
    return PoseInferencer(random_model.config, random_model.checkpoint, device='cpu')


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    """7 images (3 of them flipped copies), a truncated JPEG after the third and
    a boxes JSON with 1-3 boxes per image (image 'e' has none: the whole image)."""
    root = tmp_path_factory.mktemp('batched')
    images = root / 'images'
    images.mkdir()
    dets = []
    for i, name in enumerate('abcdefg'):
        src = cv2.imread(str(IMAGES[i % 4]))
        image = src if i < 4 else cv2.flip(src, 1)
        cv2.imwrite(str(images / f'{name}.png'), image)
        h, w = image.shape[:2]
        for k in range(0 if name == 'e' else 1 + i % 3):
            x, y = w * (0.1 + 0.2 * k), h * (0.05 + 0.1 * k)
            dets.append(dict(image_id=name, category_id=1, score=0.9 - 0.1 * k,
                             bbox=[x, y, w * 0.3, h * 0.6]))
    data = (IMAGES[0]).read_bytes()
    (images / 'c_truncated.jpg').write_bytes(data[:len(data) // 2])
    (root / 'dets.json').write_text(json.dumps(dets))
    return root


def _run(inferencer, inputs, out, **kwargs):
    with pytest.warns(SkippedInputWarning) as record:
        results = list(inferencer(str(inputs), pred_out_dir=str(out / 'preds'),
                                  vis_out_dir=str(out / 'vis'), **kwargs))
    return results, [str(w.message) for w in record if w.category is SkippedInputWarning]


def _check_same(instances, expected):
    assert len(instances) == len(expected)
    for inst, ref in zip(instances, expected):
        assert inst.keys() == ref.keys()
        np.testing.assert_allclose(inst['keypoints'], ref['keypoints'], atol=1e-3)
        np.testing.assert_allclose(inst['keypoint_scores'], ref['keypoint_scores'], atol=1e-5)
        assert inst['bbox'] == ref['bbox'] and inst['bbox_score'] == ref['bbox_score']


def test_batch_sizes_give_the_same_predictions_files_and_skips(inferencer, folder, tmp_path):
    runs = {}
    for batch_size in (1, 3, 8):
        out = tmp_path / str(batch_size)
        runs[batch_size] = (*_run(inferencer, folder / 'images', out,
                                  bboxes=folder / 'dets.json', batch_size=batch_size),
                            list(inferencer.skipped), out)
    results, warned, skipped, out = runs[1]
    assert [r['name'] for r in results] == [f'{n}.png' for n in 'abcdefg']
    assert [len(r['predictions']) for r in results] == [1, 2, 3, 1, 1, 3, 1]
    # 'e' (no boxes in the file): one box over the whole image, score 1
    h, w = cv2.imread(str(folder / 'images' / 'e.png')).shape[:2]
    assert results[4]['predictions'][0]['bbox'] == [0, 0, w, h]
    assert results[4]['predictions'][0]['bbox_score'] == 1
    bad = str(folder / 'images' / 'c_truncated.jpg')
    assert [s.path for s in skipped] == [bad] and len(warned) == 2
    for batch_size in (3, 8):
        b_results, b_warned, b_skipped, b_out = runs[batch_size]
        assert [r['name'] for r in b_results] == [r['name'] for r in results]
        for got, ref in zip(b_results, results):
            _check_same(got['predictions'], ref['predictions'])
        assert b_warned == warned and b_skipped == skipped
        for kind in ('preds', 'vis'):
            names = sorted(p.name for p in (out / kind).iterdir())
            assert sorted(p.name for p in (b_out / kind).iterdir()) == names
        for name in names:
            ref = cv2.imread(str(out / 'vis' / name)).astype(int)
            got = cv2.imread(str(b_out / 'vis' / name)).astype(int)
            # a keypoint moved by 1e-6 px may round to a neighbouring pixel
            assert np.mean(got != ref) < 1e-3
        for name in (p.name for p in (out / 'preds').iterdir()):
            _check_same(json.loads((b_out / 'preds' / name).read_text()),
                        json.loads((out / 'preds' / name).read_text()))


def test_video_frames_in_batches(inferencer, tmp_path):
    video = tmp_path / 'clip.mp4'
    frame = cv2.resize(cv2.imread(str(IMAGES[2])), (160, 128))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 10, (160, 128))
    for shift in range(5):
        writer.write(np.roll(frame, 8 * shift, axis=1))
    writer.release()
    records = {}
    for batch_size in (1, 2):
        out = tmp_path / str(batch_size)
        results = list(inferencer(str(video), pred_out_dir=str(out), vis_out_dir=str(out),
                                  batch_size=batch_size))
        assert [r['frame_id'] for r in results] == [0, 1, 2, 3, 4]
        records[batch_size] = json.loads((out / 'clip.json').read_text())
        cap = cv2.VideoCapture(str(out / 'clip.mp4'))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
        cap.release()
    assert [r['frame_id'] for r in records[2]] == [0, 1, 2, 3, 4]
    for got, ref in zip(records[2], records[1]):
        _check_same(got['instances'], ref['instances'])


def test_inference_topdown_batch_equals_one_image_at_a_time(random_model):
    model = init_model(random_model.config, random_model.checkpoint)
    images = [cv2.imread(str(p)) for p in IMAGES[:3]]
    boxes = [np.array([[10, 20, 200, 300], [50, 40, 150, 260]], np.float32), None,
             np.zeros((0, 4), np.float32)]
    batched = inference_topdown_batch(model, images, boxes)
    assert [len(b) for b in batched] == [2, 1, 1]
    for image, box, got in zip(images, boxes, batched):
        for g, r in zip(got, inference_topdown(model, image, box)):
            np.testing.assert_allclose(g.pred_instances.keypoints,
                                       r.pred_instances.keypoints, atol=1e-3)
            np.testing.assert_allclose(g.pred_instances.bboxes, r.pred_instances.bboxes)
    with pytest.raises(ValueError, match='3 images but 2 box arrays'):
        inference_topdown_batch(model, images, boxes[:2])


def _reader_threads():
    return [t for t in threading.enumerate() if t.name == READER]


def test_prefetch_keeps_order_warnings_and_skips(folder):
    items = sorted(str(p) for p in (folder / 'images').iterdir())
    seen = {}
    for prefetch in (0, 2):
        skipped = []
        with pytest.warns(SkippedInputWarning) as record:
            names = [f.name for f in iter_frames(items, skipped, prefetch=prefetch)]
        seen[prefetch] = names, [str(w.message) for w in record], skipped
    assert seen[2] == seen[0]
    assert seen[0][0] == ['a.png', 'b.png', 'c.png', 'd.png', 'e.png', 'f.png', 'g.png']
    assert [s.path for s in seen[0][2]] == [items[3]]  # c_truncated.jpg
    assert _reader_threads() == []


def test_early_stop_and_errors_leave_no_reader_thread(inferencer, folder):
    items = sorted(str(p) for p in (folder / 'images').iterdir())
    frames = iter_frames(items, prefetch=2)
    assert isinstance(next(frames), Frame) and len(_reader_threads()) == 1
    frames.close()
    assert _reader_threads() == []
    results = inferencer(str(folder / 'images'), bboxes=folder / 'dets.json', batch_size=2)
    assert next(results)['name'] == 'a.png'
    results.close()
    assert _reader_threads() == []
    # an error in the reader thread reaches the consumer, after the frames before it
    frames = iter_frames([items[0], 42], prefetch=2)
    assert next(frames).name == 'a.png'
    with pytest.raises(TypeError):
        next(frames)
    assert _reader_threads() == []


def test_batch_size_must_be_a_positive_integer(inferencer, random_model, folder, capsys):
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match='batch_size must be an integer >= 1'):
            check_batch_size(bad)
    with pytest.raises(ValueError, match='batch_size must be an integer >= 1'):
        PoseInferencer(random_model.config, random_model.checkpoint, device='cpu',
                       batch_size=0)
    with pytest.raises(ValueError, match='batch_size must be an integer >= 1'):
        next(inferencer(str(IMAGES[0]), batch_size=0))
    with pytest.raises(ValueError, match='prefetch must be >= 0'):
        next(iter_frames([str(IMAGES[0])], prefetch=-1))
    assert main(['infer', str(IMAGES[0]), '--pose2d', random_model.config,
                 '--pose2d-weights', random_model.checkpoint, '--device', 'cpu',
                 '--pred-out-dir', 'unused', '--batch-size', '0']) == 1
    assert 'batch_size must be an integer >= 1' in capsys.readouterr().err
    assert list(iter_batches(range(5), 2)) == [[0, 1], [2, 3], [4]]


def test_cli_batch_size(random_model, folder, tmp_path, capsys):
    outs = []
    for batch_size in ('1', '4'):
        out = tmp_path / batch_size
        code = main(['infer', str(folder / 'images'), '--pose2d', random_model.config,
                     '--pose2d-weights', random_model.checkpoint, '--device', 'cpu',
                     '--bboxes', str(folder / 'dets.json'), '--pred-out-dir', str(out),
                     '--no-progress', '--batch-size', batch_size])
        assert code == 1  # the truncated file
        assert '7 frame(s), 12 instance(s)' in capsys.readouterr().out
        outs.append(out)
    for path in sorted(outs[0].iterdir()):
        _check_same(json.loads((outs[1] / path.name).read_text()),
                    json.loads(path.read_text()))
