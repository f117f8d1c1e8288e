"""PoseDataPreprocessor: stacking, channel flip, normalisation, padding."""
import pytest
import torch

from posekit.models.data_preprocessors import (BaseDataPreprocessor,
                                               PoseDataPreprocessor)
from posekit.registry import MODELS
from posekit.structures import InstanceData, PoseDataSample

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def _images(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, s, dtype=torch.uint8, generator=g)
            for s in shapes]


def _expected(img, mean, std, flip):
    """(C, H, W) uint8 -> the normalised float image, written out by hand."""
    x = img.float()
    if flip:
        x = x[[2, 1, 0]]
    return (x - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(
        std).view(-1, 1, 1)


def test_built_from_config_and_no_state():
    dp = MODELS.build(dict(type='PoseDataPreprocessor', mean=MEAN, std=STD,
                           bgr_to_rgb=True))
    assert isinstance(dp, PoseDataPreprocessor)
    assert dp.state_dict() == {}  # mean/std come from the config
    assert dp.device == torch.device('cpu')


def test_normalise_and_flip_equal_hand_computation():
    imgs = _images((3, 8, 6), (3, 8, 6))
    dp = PoseDataPreprocessor(mean=MEAN, std=STD, bgr_to_rgb=True)
    samples = [PoseDataSample(), PoseDataSample()]
    out = dp(dict(inputs=imgs, data_samples=samples), False)
    assert out['inputs'].dtype == torch.float32
    assert out['inputs'].shape == (2, 3, 8, 6)
    for got, img in zip(out['inputs'], imgs):
        torch.testing.assert_close(got, _expected(img, MEAN, STD, True),
                                   rtol=0, atol=0)
    assert out['data_samples'] is not None
    assert out['data_samples'][0].batch_input_shape == (8, 6)
    assert out['data_samples'][0].pad_shape == (8, 6)


def test_rgb_to_bgr_and_no_normalisation():
    imgs = _images((3, 4, 5))
    out = PoseDataPreprocessor(rgb_to_bgr=True)(dict(inputs=imgs))
    torch.testing.assert_close(out['inputs'][0], imgs[0].float().flip(0))
    assert out['data_samples'] is None
    out = PoseDataPreprocessor()(dict(inputs=imgs))
    torch.testing.assert_close(out['inputs'][0], imgs[0].float())


def test_stacked_tensor_input():
    imgs = _images((3, 8, 6), (3, 8, 6))
    dp = PoseDataPreprocessor(mean=MEAN, std=STD, bgr_to_rgb=True)
    a = dp(dict(inputs=imgs))['inputs']
    b = dp(dict(inputs=torch.stack(imgs)))['inputs']
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_pad_to_largest_and_divisor_after_normalising():
    imgs = _images((1, 5, 7), (1, 9, 4))
    dp = PoseDataPreprocessor(mean=[10.], std=[2.], pad_size_divisor=4,
                              pad_value=-1)
    samples = [PoseDataSample(), PoseDataSample()]
    out = dp(dict(inputs=imgs, data_samples=samples))
    x = out['inputs']
    assert x.shape == (2, 1, 12, 8)  # max (9, 7) rounded up to 4
    torch.testing.assert_close(x[0, :, :5, :7], (imgs[0].float() - 10) / 2)
    assert (x[0, :, 5:, :] == -1).all() and (x[0, :, :, 7:] == -1).all()
    torch.testing.assert_close(x[1, :, :9, :4], (imgs[1].float() - 10) / 2)
    assert [s.pad_shape for s in samples] == [(8, 8), (12, 4)]
    assert all(s.batch_input_shape == (12, 8) for s in samples)


def test_gray_input_is_not_flipped():
    imgs = _images((1, 4, 4))
    out = PoseDataPreprocessor(mean=[0.], std=[1.], bgr_to_rgb=True)(
        dict(inputs=imgs))
    torch.testing.assert_close(out['inputs'][0], imgs[0].float())


@pytest.mark.parametrize('kwargs, match', [
    (dict(mean=[1., 2.], std=[1., 1.]), 'mean must have 1 value'),
    (dict(mean=[1., 2., 3.], std=[1., 1., 1., 1.]), 'std must have 1 value'),
    (dict(mean=MEAN), 'both mean and std'),
    (dict(bgr_to_rgb=True, rgb_to_bgr=True), 'at most one'),
    (dict(pad_size_divisor=0), 'pad_size_divisor'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PoseDataPreprocessor(**kwargs)


def test_three_values_need_three_channels():
    dp = PoseDataPreprocessor(mean=MEAN, std=STD)
    with pytest.raises(ValueError, match='3 channels'):
        dp(dict(inputs=_images((1, 4, 4))))


def test_batch_augments_run_only_when_training():
    calls = []

    def augment(inputs, samples):
        calls.append(inputs.shape)
        return inputs + 1, samples

    dp = PoseDataPreprocessor(batch_augments=[augment])
    imgs = _images((3, 4, 4))
    x = dp(dict(inputs=imgs), training=False)['inputs']
    assert calls == []
    y = dp(dict(inputs=imgs), training=True)['inputs']
    assert calls == [(1, 3, 4, 4)]
    torch.testing.assert_close(y, x + 1)


def test_module_batch_augments_are_submodules():
    class Shift(torch.nn.Module):
        def forward(self, inputs, samples):
            return inputs - 1, samples

    dp = PoseDataPreprocessor(batch_augments=[Shift()])
    assert isinstance(dp.batch_augments, torch.nn.ModuleList)
    out = dp(dict(inputs=_images((3, 2, 2))), training=True)['inputs']
    assert out.min() >= -1


def test_base_preprocessor_moves_only():
    img = _images((3, 2, 2))
    out = BaseDataPreprocessor()(dict(inputs=img, data_samples=None))
    assert out['inputs'][0].dtype == torch.uint8
    assert torch.equal(out['inputs'][0], img[0])


def test_bad_data():
    dp = PoseDataPreprocessor()
    with pytest.raises(TypeError, match='"inputs"'):
        dp([torch.zeros(3, 2, 2)])
    with pytest.raises(ValueError, match='empty'):
        dp(dict(inputs=[]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_normalises_on_the_gpu():
    dp = PoseDataPreprocessor(mean=MEAN, std=STD, bgr_to_rgb=True).cuda()
    imgs = _images((3, 8, 6), (3, 8, 6))
    sample = PoseDataSample()
    sample.gt_instance_labels = InstanceData(
        keypoint_weights=torch.ones(1, 17))
    out = dp(dict(inputs=imgs, data_samples=[sample, PoseDataSample()]))
    assert out['inputs'].device.type == 'cuda'
    assert out['data_samples'][0].gt_instance_labels.keypoint_weights.is_cuda
    torch.testing.assert_close(out['inputs'][0].cpu(),
                               _expected(imgs[0], MEAN, STD, True))
