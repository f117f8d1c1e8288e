"""Data samples for metric tests, built from the dataset fixtures.

A metric receives, per sample, the model's ``pred_instances`` merged with the
packed ground truth (``gt_instances``, ``id``, ``img_id``, ``raw_ann_info``...)
as a dict. These helpers build such dicts from a posekit dataset: with the
ground truth as the prediction, or with seeded perturbations. The expected
numbers in the tests were obtained by feeding the same dicts to MMPose 1.3.2.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / 'data' / 'fixtures'


def fixture_path(rel: str) -> str:
    return str(FIXTURES / rel)


def build_dataset(type_: str, ann_file: str, **kwargs):
    from posekit.registry import DATASETS
    return DATASETS.build(dict(type=type_, ann_file=fixture_path(ann_file),
                               test_mode=True, **kwargs))


def image_shapes(ann_file: str) -> dict:
    """{image id: (height, width)} of a COCO-style fixture."""
    with open(fixture_path(ann_file)) as f:
        images = json.load(f).get('images', [])
    return {img['id']: (img['height'], img['width']) for img in images}


def _perturb(rng, keypoints, box_size, noise):
    """Keypoints moved by N(0, noise * box size) pixels; random scores."""
    moved = keypoints + rng.normal(0, noise * box_size, keypoints.shape)
    scores = rng.uniform(0, 1, keypoints.shape[:2])
    return moved.astype(np.float32), scores.astype(np.float32)


def topdown_samples(dataset, seed=None, noise=0.05, shapes=None) -> list:
    """One sample per instance; ground truth as prediction if seed is None.

    Box scale (what GetBBoxCenterScale packs) is 1.25 x the box size.
    """
    rng = None if seed is None else np.random.default_rng(seed)
    samples = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        gt_kpts = np.asarray(info['keypoints'], dtype=np.float32)
        bbox = np.asarray(info['bbox'], dtype=np.float32)
        wh = bbox[:, 2:] - bbox[:, :2]
        if rng is None:
            kpts = gt_kpts.copy()
            scores = np.ones(gt_kpts.shape[:2], dtype=np.float32)
        else:
            kpts, scores = _perturb(rng, gt_kpts,
                                    float(np.sqrt(max(wh.prod(), 1.0))), noise)
        gt = dict(bboxes=bbox, bbox_scores=info['bbox_score'],
                  bbox_scales=(wh * 1.25).astype(np.float32),
                  keypoints=gt_kpts, keypoints_visible=info['keypoints_visible'])
        if 'head_size' in info:
            gt['head_size'] = info['head_size']
        sample = dict(
            id=info['id'], img_id=info['img_id'],
            category_id=info.get('category_id', 1), gt_instances=gt,
            pred_instances=dict(keypoints=kpts, keypoint_scores=scores,
                                bboxes=bbox, bbox_scores=info['bbox_score']))
        for key in ('raw_ann_info', 'crowd_index'):
            if key in info:
                sample[key] = info[key]
        if shapes is not None:
            sample['ori_shape'] = shapes[info['img_id']]
        samples.append(sample)
    return samples


def with_duplicates(samples: list, seed: int) -> list:
    """Adds near-copies (new ids, lower box score) of every other sample,
    and a copy of the first whose keypoint scores are all 0."""
    rng = np.random.default_rng(seed)
    out = list(samples)
    for n, sample in enumerate(samples[::2]):
        dup = dict(sample, id=10**7 + n)
        pred = dict(sample['pred_instances'])
        pred['keypoints'] = (pred['keypoints'] + rng.normal(
            0, 1.0, pred['keypoints'].shape)).astype(np.float32)
        pred['bbox_scores'] = (pred['bbox_scores'] * 0.9).astype(np.float32)
        dup['pred_instances'] = pred
        out.append(dup)
    zero = dict(samples[0], id=2 * 10**7)
    zero['pred_instances'] = dict(
        samples[0]['pred_instances'],
        keypoint_scores=np.zeros_like(
            samples[0]['pred_instances']['keypoint_scores']))
    out.append(zero)
    return out


def bottomup_samples(dataset, seed: int, noise=0.05, shapes=None) -> list:
    """One sample per image with all its instances (``id`` is a list)."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        gt_kpts = np.asarray(info['keypoints'], dtype=np.float32)
        kpts, scores = _perturb(rng, gt_kpts, 40.0, noise)
        samples.append(dict(
            id=info['id'], img_id=info['img_id'],
            raw_ann_info=info['raw_ann_info'],
            ori_shape=shapes[info['img_id']] if shapes else None,
            gt_instances=dict(bboxes=info['bbox'],
                              bbox_scores=info['bbox_score'],
                              keypoints=gt_kpts,
                              keypoints_visible=info['keypoints_visible']),
            pred_instances=dict(keypoints=kpts, keypoint_scores=scores)))
    return samples


def lifting_samples(seed: int, num: int = 12, noise: float = 20.0) -> list:
    """3D pose-lifting samples (17 joints, millimetres), Human3.6M names."""
    rng = np.random.default_rng(seed)
    actions = ['Directions_1', 'Eating_2', 'Walking_1', 'WalkDog_1']
    samples = []
    for i in range(num):
        target = rng.normal(0, 300, (1, 17, 3)).astype(np.float32)
        pred = target + rng.normal(0, noise, target.shape).astype(np.float32)
        if i % 3 == 0:    # a scaled and rotated prediction
            c, s = np.cos(0.3), np.sin(0.3)
            rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float32)
            pred = 1.1 * pred @ rot.T + 15
        visible = (rng.uniform(size=(1, 17)) > 0.1).astype(np.float32)
        name = f'S{9 + i % 2}_{actions[i % 4]}.54138969_{i:06d}.jpg'
        samples.append(dict(
            target_img_path=[name],
            pred_instances=dict(keypoints=pred.astype(np.float32)),
            gt_instances=dict(lifting_target=target,
                              lifting_target_visible=visible)))
    return samples


def synthetic_coco(seed: int, num_images: int = 60) -> tuple:
    """A random COCO keypoint set and top-down predictions for it.

    About 2.5 people per image (1% crowd, 5% without keypoints), a
    ``crowdIndex`` per image, predictions for the non-crowd people plus 30%
    noisier duplicates. Returns (coco json dict, data samples).
    """
    rng = np.random.default_rng(seed)
    images, anns, samples = [], [], []
    for img_id in range(1, num_images + 1):
        width, height = (int(v) for v in rng.integers(300, 641, 2))
        images.append(dict(id=img_id, width=width, height=height,
                           crowdIndex=round(float(rng.uniform()), 2)))
        for _ in range(1 + rng.poisson(1.5)):
            w = float(rng.uniform(15, 250))
            h = min(float(w * rng.uniform(1.2, 2.5)), height - 1.0)
            x, y = float(rng.uniform(0, width - w)), float(rng.uniform(0, height - h))
            vis = rng.choice([0, 1, 2], size=17, p=[0.3, 0.2, 0.5])
            if rng.random() < 0.05:
                vis[:] = 0
            crowd = int(rng.random() < 0.01)
            kpts = np.concatenate([rng.uniform([x, y], [x + w, y + h], (17, 2)),
                                   vis[:, None]], axis=1)
            kpts[(vis == 0) | bool(crowd)] = 0
            anns.append(dict(
                id=len(anns) + 1, image_id=img_id, category_id=1,
                bbox=[x, y, w, h], area=float(w * h * rng.uniform(0.4, 0.7)),
                iscrowd=crowd, num_keypoints=int(np.count_nonzero(kpts[:, 2])),
                keypoints=[round(float(v), 2) for v in kpts.ravel()]))
    for ann in anns:
        if ann['iscrowd']:
            continue
        for dup in range(1 + int(rng.random() < 0.3)):
            x, y, w, h = ann['bbox']
            gt = np.array(ann['keypoints'], np.float32).reshape(17, 3)
            pred = rng.uniform([x, y], [x + w, y + h], (17, 2))
            seen = gt[:, 2] > 0
            pred[seen] = gt[seen, :2] + rng.normal(
                0, 0.06 * (1 + 2 * dup) * np.sqrt(ann['area']), (seen.sum(), 2))
            bbox = np.array([[x, y, x + w, y + h]], np.float32)
            score = rng.uniform(0.3, 1.0, 1).astype(np.float32)
            img = images[ann['image_id'] - 1]
            samples.append(dict(
                id=len(samples), img_id=ann['image_id'], category_id=1,
                ori_shape=(img['height'], img['width']), raw_ann_info=ann,
                crowd_index=img['crowdIndex'],
                gt_instances=dict(
                    bboxes=bbox, bbox_scores=score,
                    bbox_scales=np.array([[w, h]], np.float32) * 1.25,
                    keypoints=gt[None, :, :2],
                    keypoints_visible=seen[None].astype(np.float32)),
                pred_instances=dict(
                    keypoints=pred[None].astype(np.float32),
                    keypoint_scores=rng.uniform(0, 1, (1, 17)).astype(np.float32),
                    bboxes=bbox, bbox_scores=score)))
    categories = [dict(id=1, name='person', supercategory='person',
                       keypoints=[str(i) for i in range(17)], skeleton=[])]
    return dict(images=images, annotations=anns, categories=categories), samples


def run_metric(cfg: dict, meta: dict, samples: list, batch: int = 4) -> dict:
    """Build a posekit metric, process ``samples`` in batches, evaluate."""
    from posekit.registry import METRICS
    metric = METRICS.build(cfg)
    if meta is not None:
        metric.dataset_meta = meta
    for i in range(0, len(samples), batch):
        metric.process(None, samples[i:i + batch])
    return metric.evaluate(len(samples))


@pytest.fixture(scope='session')
def coco_dataset():
    return build_dataset('CocoDataset', 'coco/test_coco.json')


@pytest.fixture(scope='session')
def coco_shapes():
    return image_shapes('coco/test_coco.json')


@pytest.fixture(scope='session')
def make():
    """The sample builders of this module, for the tests."""
    from types import SimpleNamespace
    return SimpleNamespace(
        dataset=build_dataset, shapes=image_shapes, path=fixture_path,
        topdown=topdown_samples, duplicates=with_duplicates,
        bottomup=bottomup_samples, lifting=lifting_samples,
        synthetic=synthetic_coco, run=run_metric)
