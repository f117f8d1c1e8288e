"""The two pieces of the COCO keypoint evaluation written here rather than
taken from faster-coco-eval: the vectorised OKS (must equal the library's
own computeOks bit for bit) and the precision fix-up (must equal COCOeval's
accumulate, recomputed below from the library's per-image matches)."""
import numpy as np
import pytest
from faster_coco_eval import COCO
from faster_coco_eval.core.faster_eval_api import COCOeval_faster

from posekit.evaluation.metrics import coco_keypoint_eval as ce
from posekit.evaluation.metrics.coco_oks import DetectionLayout, oks_matrices

SIGMAS = np.array([.026, .025, .025, .035, .035, .079, .079, .072, .072,
                   .062, .062, .107, .107, .087, .087, .089, .089], np.float32)


def _detections(samples):
    keypoints = np.concatenate([np.concatenate(
        [s['pred_instances']['keypoints'],
         s['pred_instances']['keypoint_scores'][..., None]], -1)
        for s in samples]).astype(np.float64)
    image_ids = np.array([s['img_id'] for s in samples])
    scores = np.array([float(s['pred_instances']['bbox_scores'][0])
                       for s in samples])
    return image_ids, keypoints, scores


@pytest.mark.parametrize('seed, use_area', [(0, True), (1, False), (2, True)])
def test_oks_equals_the_librarys_compute_oks(make, seed, use_area):
    coco_json, samples = make.synthetic(seed)
    image_ids, keypoints, scores = _detections(samples)
    gt = ce.KeypointGroundTruth(coco_json['images'], coco_json['annotations'],
                                coco_json['categories'], 'keypoints', use_area)
    layout = DetectionLayout(image_ids, np.ones_like(image_ids), scores, gt, 20)
    ours = oks_matrices(layout, gt, keypoints, SIGMAS)
    # the library on the same data, with its own per-image computeOks
    lib_gt = COCO(dict(coco_json, annotations=[
        dict(a, num_keypoints=int(np.count_nonzero(
            np.array(a['keypoints'][2::3]) > 0))) for a in coco_json[
            'annotations']]))
    dets = [dict(id=i + 1, image_id=int(img), category_id=1, score=float(s),
                 keypoints=k.ravel().tolist(), iscrowd=0, area=1.0)
            for i, (img, s, k) in enumerate(zip(image_ids, scores, keypoints))]
    lib_dt = COCO(dict(images=coco_json['images'], annotations=dets,
                       categories=coco_json['categories']))
    evaluator = COCOeval_faster(lib_gt, lib_dt, 'keypoints',
                                kpt_oks_sigmas=SIGMAS, use_area=use_area,
                                separate_eval=True)
    evaluator.evaluate()
    theirs = {key: value for key, value in evaluator.ious.items()
              if len(value)}
    assert set(ours) == set(theirs)
    # gt without labelled keypoints (box-distance OKS) are among them
    assert (gt.num_visible == 0).any()
    for key, value in theirs.items():
        np.testing.assert_array_equal(ours[key], value)


def _coco_eval_precision(evaluator) -> np.ndarray:
    """COCOeval.accumulate's precision, from the library's per-image
    matches, with COCOeval's formula tp / (tp + fp + eps)."""
    params = evaluator.params
    num_thrs, num_areas = len(params.iouThrs), len(params.areaRng)
    num_images, num_cats = len(params.imgIds), len(params.catIds)
    precision = -np.ones((num_thrs, len(params.recThrs), num_cats, num_areas,
                          1))
    for k in range(num_cats):
        for a in range(num_areas):
            start = (k * num_areas + a) * num_images
            states = [evaluator._evalImgs_cpp[start + i].__getstate__()
                      for i in range(num_images)]
            scores = np.concatenate([s[2] for s in states] + [[]])
            matches = np.concatenate([np.reshape(s[0], (num_thrs, -1))
                                      for s in states], axis=1)
            ignored = np.concatenate([np.reshape(s[4], (num_thrs, -1))
                                      for s in states], axis=1)
            num_gt = sum(not g for s in states for g in s[3])
            if num_gt == 0:
                continue
            order = np.argsort(-scores, kind='mergesort')
            matches, ignored = matches[:, order], ignored[:, order]
            tps = np.cumsum((matches > 0) & ~ignored, 1).astype(float)
            fps = np.cumsum((matches == 0) & ~ignored, 1).astype(float)
            for t in range(num_thrs):
                recall = tps[t] / num_gt
                prec = (tps[t] / (fps[t] + tps[t] + np.spacing(1))).tolist()
                for i in range(len(prec) - 1, 0, -1):
                    prec[i - 1] = max(prec[i - 1], prec[i])
                at = np.searchsorted(recall, params.recThrs, side='left')
                precision[t, :, k, a, 0] = [prec[i] if i < len(prec) else 0
                                            for i in at]
    return precision


def test_precision_equals_coco_evals_accumulate(make):
    first_tp = 1.0 / (1.0 + np.spacing(1))
    fixed = 0
    for seed in range(6):
        coco_json, samples = make.synthetic(seed, num_images=40)
        image_ids, keypoints, scores = _detections(samples)
        for use_area in (True, False):
            gt = ce.KeypointGroundTruth(
                coco_json['images'], coco_json['annotations'],
                coco_json['categories'], 'keypoints', use_area)
            dets = [dict(id=i + 1, image_id=int(img), category_id=1,
                         score=float(s), area=float(np.ptp(k[:, 0]) *
                                                    np.ptp(k[:, 1])),
                         iscrowd=0)
                    for i, (img, s, k) in enumerate(zip(image_ids, scores,
                                                        keypoints))]
            evaluator = ce._PrecomputedOks(
                gt.coco, COCO(dict(images=coco_json['images'],
                                   annotations=dets,
                                   categories=coco_json['categories'])),
                'keypoints', kpt_oks_sigmas=SIGMAS, separate_eval=True)
            layout = DetectionLayout(image_ids, np.ones_like(image_ids),
                                     scores, gt, 20)
            evaluator.oks = oks_matrices(layout, gt, keypoints, SIGMAS)
            # all images, then a subset (as CrowdPose's easy/medium/hard)
            for images in (None, evaluator.params.imgIds[::3]):
                if images is not None:
                    evaluator.params.imgIds = list(images)
                precision, _ = ce._accumulate(evaluator, gt, layout)
                expected = _coco_eval_precision(evaluator)
                np.testing.assert_array_equal(precision, expected)
                fixed += np.count_nonzero(precision == first_tp)
    assert fixed > 0   # the 1 / (1 + eps) entries did occur
