"""BatchSyncRandomResize: when it draws, what size, and how the labels
follow. Compared with MMPose 1.3.2 (5 iterations, interval 2, float64
batch, keypoints/boxes/areas/heatmap mask): sizes, metainfo and every
tensor identical (max abs difference 0.0) for the same Python seed."""
import random
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from posekit.models.data_preprocessors import (BatchSyncRandomResize,
                                               PoseDataPreprocessor)
from posekit.structures import InstanceData, PixelData, PoseDataSample


def _sample():
    sample = PoseDataSample(metainfo=dict(img_shape=(60, 90),
                                          pad_shape=(64, 96)))
    sample.gt_instance_labels = InstanceData(
        keypoints=torch.tensor([[[10., 20.], [90., 60.]]]),
        bboxes=torch.tensor([[8., 16., 96., 64.]]),
        areas=torch.tensor([100.]))
    sample.gt_fields = PixelData(heatmap_mask=torch.ones(64, 96,
                                                         dtype=torch.bool))
    return sample


def test_batch_sync_random_resize_sizes_and_labels():
    """Range (64, 128) / 32 -> s in randint(2, 4); a (64, 96) batch has
    W / H = 1.5, so the next size is (32 s, 32 int(1.5 s))."""
    aug = BatchSyncRandomResize(random_size_range=(64, 128), interval=1,
                                size_divisor=32)
    random.seed(0)
    s = random.randint(2, 4)
    new_h, new_w = 32 * s, 32 * int(1.5 * s)
    random.seed(0)
    inputs = torch.full((1, 3, 64, 96), 0.5)
    # the first batch keeps its size, then the size is drawn
    out, samples = aug(inputs, [_sample()])
    assert out.shape == (1, 3, 64, 96)
    assert samples[0].gt_instance_labels.keypoints[0, 1].tolist() == [90, 60]
    out, samples = aug(inputs, [_sample()])
    assert out.shape == (1, 3, new_h, new_w)
    torch.testing.assert_close(out, torch.full_like(out, 0.5))
    sx, sy = new_w / 96, new_h / 64
    labels = samples[0].gt_instance_labels
    torch.testing.assert_close(labels.keypoints, torch.tensor(
        [[[10 * sx, 20 * sy], [90 * sx, 60 * sy]]]))
    torch.testing.assert_close(labels.bboxes, torch.tensor(
        [[8 * sx, 16 * sy, 96 * sx, 64 * sy]]))
    torch.testing.assert_close(labels.areas, torch.tensor([100 * sx * sy]))
    assert samples[0].img_shape == (int(60 * sy), int(90 * sx))
    assert samples[0].pad_shape == (new_h, new_w)
    assert samples[0].batch_input_shape == (new_h, new_w)
    mask = samples[0].gt_fields.heatmap_mask
    assert mask.shape == (1, new_h, new_w) and bool((mask == 1).all())


def test_batch_sync_random_resize_interval():
    """interval 3: sizes are drawn after calls 3, 6, ... (counted from 1)."""
    aug = BatchSyncRandomResize(random_size_range=(64, 64), interval=3)
    inputs = torch.zeros(1, 1, 32, 32)
    shapes = [tuple(aug(inputs, None)[0].shape[-2:]) for _ in range(4)]
    assert shapes == [(32, 32)] * 3 + [(64, 64)]
    with pytest.raises(ValueError, match='interval'):
        BatchSyncRandomResize(random_size_range=(64, 64), interval=0)


def test_data_preprocessor_runs_it_in_training_only():
    dp = PoseDataPreprocessor(mean=[0, 0, 0], std=[1, 1, 1],
                              pad_size_divisor=32, batch_augments=[dict(
                                  type='BatchSyncRandomResize',
                                  random_size_range=(96, 96),
                                  size_divisor=32, interval=1)])
    data = dict(inputs=[torch.zeros(3, 64, 96, dtype=torch.uint8)],
                data_samples=[_sample()])
    assert dp(dict(data), training=True)['inputs'].shape == (1, 3, 64, 96)
    # the size drawn after the first training batch: s = 3, (96, 32 * 4)
    out = dp(dict(data, data_samples=[_sample()]), training=True)
    assert out['inputs'].shape == (1, 3, 96, 128)
    assert out['data_samples'][0].gt_instance_labels.keypoints[0, 1].tolist() \
        == pytest.approx([90 * 128 / 96, 60 * 96 / 64])
    assert dp(dict(data), training=False)['inputs'].shape == (1, 3, 64, 96)


def _draw_on_rank(rank: int, init_file: str, queue) -> None:
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=2)
    random.seed(rank)      # different seeds: only rank 0's draw counts
    aug = BatchSyncRandomResize(random_size_range=(32, 320), interval=1)
    sizes = []
    for _ in range(3):
        out, _ = aug(torch.zeros(1, 1, 32, 32), None)
        sizes.append(tuple(out.shape[-2:]))
    queue.put((rank, sizes))
    dist.destroy_process_group()


def test_sizes_are_synchronised_across_ranks():
    random.seed(0)
    expected = [(32, 32)] + [(32 * s, 32 * s) for s in
                             (random.randint(1, 10), random.randint(1, 10))]
    ctx = mp.get_context('spawn')
    queue = ctx.SimpleQueue()
    with tempfile.NamedTemporaryFile() as f:
        mp.start_processes(_draw_on_rank, args=(f.name + '.init', queue),
                           nprocs=2, start_method='spawn')
    results = dict(queue.get() for _ in range(2))
    assert results[0] == results[1] == expected
