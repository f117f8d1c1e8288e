"""PoseTrack18Metric: poseval's per-joint AP, expected values derived by hand.

poseval's rules (see the metric's module docstring): a prediction matches
the ground-truth person with the highest PCKh@0.5 (head size 0.6 x the
``bbox_head`` diagonal); AP per joint is VOC's area under the interpolated
precision/recall curve; ``AP`` averages the 15 joints (ears excluded) that
are not NaN.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets.metainfo import parse_pose_metainfo
from posekit.evaluation.metrics import PoseTrack18Metric
from posekit.evaluation.metrics.posetrack18_metric import gt_folder, voc_ap
from posekit.registry import METRICS

FIXTURE = Path(__file__).parents[1] / 'data' / 'fixtures' / 'posetrack18' / 'annotations'
META = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/posetrack18.py'))
NAMES = ['Head AP', 'Shou AP', 'Elb AP', 'Wri AP', 'Hip AP', 'Knee AP', 'Ankl AP', 'AP']
EARS = [3, 4]
# COCO-order keypoints of each reported group (poseval drops the ears)
GROUPS = dict(zip(NAMES, [[0, 1, 2], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]]))


def run(ann_file, samples, **kwargs):
    metric = METRICS.build(dict(type='PoseTrack18Metric', ann_file=str(ann_file), **kwargs))
    metric.dataset_meta = META
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def sample(sid, img_id, keypoints, scores, bbox_score=1.0):
    return dict(id=sid, img_id=img_id, gt_instances=dict(bbox_scores=np.array([bbox_score])),
                pred_instances=dict(keypoints=np.float32(keypoints)[None],
                                    keypoint_scores=np.float32(scores)[None]))


def fixture_people():
    anns = []
    for path in sorted((FIXTURE / 'val').glob('*.json')):
        anns += json.loads(path.read_text())['annotations']
    return anns


def as_prediction(i, ann):
    kpts = np.array(ann['keypoints'], np.float32).reshape(17, 3)
    # labelled joints score 0.9; unlabelled ones sit at (0, 0) with score 0
    return sample(i, ann['image_id'], kpts[:, :2], np.where(kpts[:, 2] > 0, 0.9, 0))


def test_gt_folder_rule():
    assert gt_folder('data/annotations/posetrack18_val.json') == 'data/annotations/val'


def test_ground_truth_as_prediction_is_100():
    people = fixture_people()
    assert len(people) == 14
    stats = run(FIXTURE / 'test_posetrack18_val.json',
                [as_prediction(i, a) for i, a in enumerate(people)])
    assert stats == {f'posetrack18/{n}': 100.0 for n in NAMES}


def test_missed_person_lowers_recall_only():
    """All predictions are true positives (precision 1), so a joint's AP is
    its recall: labelled joints found / labelled joints."""
    people = fixture_people()
    missed = people[3]
    stats = run(FIXTURE / 'test_posetrack18_val.json',
                [as_prediction(i, a) for i, a in enumerate(people) if a is not missed])
    labelled = np.array([np.array(a['keypoints']).reshape(17, 3)[:, 2] > 0 for a in people])
    recall = 100 * (1 - labelled[3] / np.maximum(labelled.sum(axis=0), 1))  # (17,)
    for name, idx in GROUPS.items():
        assert stats[f'posetrack18/{name}'] == pytest.approx(recall[idx].mean(), abs=1e-9)
    joints = [j for j in range(17) if j not in EARS]
    assert stats['posetrack18/AP'] == pytest.approx(recall[joints].mean(), abs=1e-9)
    assert stats['posetrack18/AP'] < 100


def write_video(tmp_path, people, ignore=None):
    """One video, one frame (image id 7), the given ground-truth people."""
    folder = tmp_path / 'annotations' / 'val'
    folder.mkdir(parents=True)
    image = dict(id=7, file_name='images/val/000001_test/000000.jpg')
    if ignore:
        image.update(ignore_regions_x=[ignore[0]], ignore_regions_y=[ignore[1]])
    anns = [dict(id=i, image_id=7, track_id=i, bbox_head=[0, 0, 30, 40],
                 keypoints=np.asarray(k).reshape(-1).tolist()) for i, k in enumerate(people)]
    (folder / '000001_test.json').write_text(json.dumps(dict(images=[image],
                                                             annotations=anns)))
    ann_file = tmp_path / 'annotations' / 'test_val.json'
    ann_file.write_text(json.dumps(dict(images=[], annotations=[])))
    return ann_file


def person(x0, labelled=range(17)):
    """17 keypoints 100 px apart on a row from x0 (y = 50); others (0, 0, 0)."""
    kpts = np.zeros((17, 3))
    for j in labelled:
        kpts[j] = [x0 + 100 * j, 50, 2]
    return kpts


def test_false_positive_ranked_above_true_positive_halves_ap(tmp_path):
    """Head size 0.6 x 50 = 30 px: 14 px off is within 0.5 x 30 = 15 px,
    16 px is not. Scores: FP 0.9 then TP 0.5 -> precision 0, 1/2 at recall
    0, 1 -> interpolated AP = 1 x 1/2 = 50 for every joint."""
    ann_file = write_video(tmp_path, [person(0)])
    gt = person(0)
    assert run(ann_file, [sample(0, 7, gt[:, :2] + [14, 0], np.full(17, 0.5)),
                          sample(1, 7, gt[:, :2] + [16, 0], np.full(17, 0.9))],
               nms_mode='none') == {f'posetrack18/{n}': 50.0 for n in NAMES}
    # ranked below the true positive, the false positive costs nothing
    assert run(ann_file, [sample(0, 7, gt[:, :2] + [14, 0], np.full(17, 0.9)),
                          sample(1, 7, gt[:, :2] + [16, 0], np.full(17, 0.5))],
               nms_mode='none')['posetrack18/AP'] == 100.0


def test_joint_unlabelled_in_ground_truth_is_nan_and_skipped(tmp_path):
    """No left ankle (15) in the ground truth: the predicted one has no
    positive to find -> NaN, so 'Ankl AP' is NaN and 'AP' averages 14 joints."""
    ann_file = write_video(tmp_path, [person(0, [j for j in range(17) if j != 15])])
    stats = run(ann_file, [sample(0, 7, person(0)[:, :2], np.full(17, 0.8))])
    assert np.isnan(stats['posetrack18/Ankl AP'])
    assert stats['posetrack18/AP'] == 100.0 and stats['posetrack18/Knee AP'] == 100.0


def test_duplicate_removed_by_oks_nms(tmp_path):
    """Two predictions of one person: without NMS the first (by sample id)
    matches and the second, scored higher, is a false positive ranked
    first (AP 50); OKS NMS keeps only the higher scored one (AP 100)."""
    ann_file = write_video(tmp_path, [person(0)])
    kpts = person(0)[:, :2]
    samples = [sample(0, 7, kpts, np.full(17, 0.5)), sample(1, 7, kpts, np.full(17, 0.9))]
    assert run(ann_file, samples, nms_mode='none')['posetrack18/AP'] == 50.0
    assert run(ann_file, samples, nms_mode='oks_nms')['posetrack18/AP'] == 100.0


def test_ignore_region_removes_predictions(tmp_path):
    """A false positive wholly inside the ignore polygon is removed; one
    with a joint on its edge (not strictly inside) still counts."""
    square = ([-10, 2000, 2000, -10], [200, 200, 400, 400])
    ann_file = write_video(tmp_path, [person(0)], ignore=square)
    gt = person(0)[:, :2]
    fp = gt + [0, 250]  # y = 300, inside the square
    samples = [sample(0, 7, gt, np.full(17, 0.5)), sample(1, 7, fp, np.full(17, 0.9))]
    assert run(ann_file, samples, nms_mode='none')['posetrack18/AP'] == 100.0
    fp[0] = [0, 200]    # nose on the square's top edge: a false positive nose
    samples[1] = sample(1, 7, fp, np.full(17, 0.9))
    stats = run(ann_file, samples, nms_mode='none')
    assert stats['posetrack18/Head AP'] == pytest.approx((50 + 100 + 100) / 3)


def test_format_only_writes_mmpose_layout(tmp_path):
    ann_file = write_video(tmp_path, [person(0)])
    kpts = person(0)[:, :2]
    out = run(ann_file, [sample(0, 7, kpts, np.full(17, 0.5), bbox_score=0.8)],
              format_only=True, outfile_prefix=str(tmp_path / 'pred' / 'results'))
    assert out == {}
    written = json.loads((tmp_path / 'pred' / '000001_test.json').read_text())
    assert written['images'] == [dict(id=7, file_name='images/val/000001_test/000000.jpg')]
    (ann,) = written['annotations']
    assert ann['image_id'] == 7 and ann['track_id'] == 0 and ann['scores'] == [0.5] * 17
    assert ann['keypoints'][:6] == [0.0, 50.0, 0.5, 100.0, 50.0, 0.5]
    # 'bbox_keypoint': 0.8 x mean of the keypoint scores above 0.2
    assert ann['score'] == pytest.approx(0.8 * 0.5)
    assert written['categories'][0]['keypoints'][1] == 'head_bottom'


def test_voc_ap_first_principles():
    # ranks: TP, FP, TP of 4 positives -> steps at recall 1/4 (p 1), 2/4 (p 2/3)
    assert voc_ap(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1], bool), 4) == \
        pytest.approx(100 * (0.25 * 1 + 0.25 * 2 / 3))
    assert voc_ap(np.zeros(0), np.zeros(0, bool), 3) == 0.0


def test_needs_ann_file():
    metric = PoseTrack18Metric()
    metric.dataset_meta = META
    with pytest.raises(ValueError, match='ann_file'):
        metric.compute_metrics([])


def formula_predictions():
    """Predictions made by formula (no random numbers) from the fixture's
    people: noise of 0.15 / 0.35 / 0.7 head sizes, scores, every 10th joint
    dropped to (0, 0) with score 0, every 7th person missed, one false
    person per image."""
    out, p = [], 0
    for path in sorted((FIXTURE / 'val').glob('*.json')):
        data = json.loads(path.read_text())
        for img in data['images']:
            preds = []
            for ann in [a for a in data['annotations'] if a['image_id'] == img['id']]:
                p += 1
                if p % 7 == 4:
                    continue
                k = np.array(ann['keypoints'], np.float64).reshape(17, 3)
                size = 0.6 * np.hypot(*ann['bbox_head'][2:])
                j = np.arange(17)
                spread = (0.15, 0.35, 0.7)[p % 3] * size
                xy = k[:, :2] + spread * np.stack([np.sin(1.7 * p + 0.9 * j),
                                                   np.cos(1.3 * p + 0.7 * j)], 1)
                scores = 0.05 + 0.9 * np.abs(np.sin(2.3 * p + 1.1 * j))
                drop = (p * 17 + j) % 10 == 3
                xy[drop], scores[drop] = 0, 0
                preds.append((xy, scores, 0.3 + 0.7 * abs(np.sin(p))))
            q = len(preds)
            xy = np.stack([200 + 150 * np.sin(np.arange(17) + q),
                           150 + 100 * np.cos(np.arange(17) * 0.5 + q)], 1)
            preds.append((xy, 0.05 + 0.5 * np.abs(np.cos(np.arange(17) * 0.3 + q)), 0.5))
            for xy, scores, box in preds:
                out.append(sample(len(out), img['id'], xy, scores, np.float32(box)))
    return out


def test_values_of_mmpose_with_poseval():
    """MMPose 1.3.2's PoseTrack18Metric running poseval's evaluateAP (a
    transcription of its AP path, outside this repo) gave these numbers for
    the same predictions; posekit gave the same, and on 40 seeded random
    prediction sets (320 values) as well."""
    stats = run(FIXTURE / 'test_posetrack18_val.json', formula_predictions())
    expected = {'Head AP': 34.07190692904979, 'Shou AP': 43.41759431045145,
                'Elb AP': 40.99242424242424, 'Wri AP': 41.666666666666664,
                'Hip AP': 43.85086067778376, 'Knee AP': 28.984848484848477,
                'Ankl AP': 46.96428571428571, 'AP': 39.59793873200466}
    assert stats == {f'posetrack18/{n}': pytest.approx(v, rel=1e-9) for n, v in expected.items()}
