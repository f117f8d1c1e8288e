"""PoseLifter + TCN + TemporalRegressionHead / TrajectoryRegressionHead.

The model dicts are those of MMPose 1.3.2's h36m configs (image-pose-lift_tcn,
video-pose-lift_tcn-243frm-supv, video-pose-lift_tcn-27frm-semi-supv) without
their codecs. KEYS and GOLDEN were produced by MMPose 1.3.2 from the same
dicts, weights filled by :func:`fill` and the same inputs; posekit also
loaded MMPose's state_dicts (BatchNorm statistics from a train-mode pass)
with strict=True and gave bit-identical ``mode='tensor'`` outputs, for these
three models and a causal, dilated (not strided) TCN with ``max_norm``.
"""
import copy
import hashlib
import math

import numpy as np
import pytest
import torch

from posekit.models.backbones.tcn import TCN
from posekit.registry import MODELS
from posekit.structures import InstanceData, PoseDataSample

TCN_1FRM = dict(type='TCN', in_channels=2 * 17, stem_channels=1024, num_blocks=2,
                kernel_sizes=(1, 1, 1), dropout=0.5)
TCN_243 = dict(type='TCN', in_channels=2 * 17, stem_channels=1024, num_blocks=4,
               kernel_sizes=(3, 3, 3, 3, 3), dropout=0.25, use_stride_conv=True)
TCN_27 = dict(type='TCN', in_channels=2 * 17, stem_channels=1024, num_blocks=2,
              kernel_sizes=(3, 3, 3), dropout=0.25, use_stride_conv=True)
H36M_PARENTS = [0, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
MODELS_CFG = {
    'image': (dict(type='PoseLifter', backbone=TCN_1FRM, head=dict(
        type='TemporalRegressionHead', in_channels=1024, num_joints=16,
        loss=dict(type='MSELoss'))), 1),
    'video243': (dict(type='PoseLifter', backbone=TCN_243, head=dict(
        type='TemporalRegressionHead', in_channels=1024, num_joints=17,
        loss=dict(type='MPJPELoss'))), 243),
    'semi27': (dict(
        type='PoseLifter', backbone=TCN_27,
        head=dict(type='TemporalRegressionHead', in_channels=1024,
                  num_joints=17, loss=dict(type='MPJPELoss')),
        traj_backbone=TCN_27,
        traj_head=dict(type='TrajectoryRegressionHead', in_channels=1024,
                       num_joints=1,
                       loss=dict(type='MPJPELoss', use_target_weight=True)),
        semi_loss=dict(type='SemiSupervisionLoss', joint_parents=H36M_PARENTS,
                       warmup_iterations=1311376 // 64 // 8 * 5)), 27),
}
# name: (state_dict keys, parameters, sha1 of the "key:shape" lines in order)
KEYS = {'image': (32, 4288560, 'abe116d1921ab4c7'),
        'video243': (56, 16952371, '9f17394faa5f4a49'),
        'semi27': (64, 17061942, '19ff3fe47692e3b1')}
# name: per output (shape, first 6 values, sum of |y|, L2 norm)
GOLDEN = {
    'image': [((2, 16, 3), [0.085344, 0.077925, 0.051669, 0.046769, 0.033054,
                            -0.016914], 14.35947, 1.907017)],
    'video243': [((2, 17, 3), [0.074162, -0.295986, 0.330337, 0.071289,
                               0.218108, 0.152735], 22.43068, 2.728234)],
    'semi27': [((2, 17, 3), [0.236421, -0.163693, -0.097619, 0.228784,
                             -0.088861, 0.208048], 16.60904, 2.081491),
               ((2, 1, 3), [0.165627, -0.14078, 0.160696, 0.139528,
                            -0.124936, 0.133466], 0.86503, 0.354916)],
}


def fill(model):
    """Deterministic weights: conv N(0, 1/fan_in), 1-D tensors N(0, 0.01),
    BN running variances U(0.5, 1.5), drawn in state_dict order."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, v in model.state_dict().items():
            if not v.is_floating_point():
                continue
            if key.endswith('running_var'):
                v.copy_(torch.rand(v.shape, generator=g) + 0.5)
            elif v.ndim > 1:
                v.copy_(torch.randn(v.shape, generator=g) / math.sqrt(v[0].numel()))
            else:
                v.copy_(torch.randn(v.shape, generator=g) * 0.1)


@pytest.mark.parametrize('name', sorted(MODELS_CFG))
def test_mmpose_configs_keys_and_tensor_outputs(name):
    cfg, frames = MODELS_CFG[name]
    model = MODELS.build(copy.deepcopy(cfg))
    sd = model.state_dict()
    text = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in sd.items())
    assert (len(sd), sum(p.numel() for p in model.parameters()),
            hashlib.sha1(text.encode()).hexdigest()[:16]) == KEYS[name]
    fill(model)
    model.eval()
    x = torch.randn(2, 34, frames, generator=torch.Generator().manual_seed(1)) * 0.3
    with torch.no_grad():
        out = model(x, None, mode='tensor')
    outs = out if isinstance(out, tuple) else (out, )
    assert len(outs) == len(GOLDEN[name])
    for y, (shape, first, abs_sum, norm) in zip(outs, GOLDEN[name]):
        assert tuple(y.shape) == shape
        # golden values are rounded to 6 decimals; float32 sums of ~1e3
        # products differ by a few 1e-7 across CPUs
        np.testing.assert_allclose(y.flatten()[:6].numpy(), first, atol=2e-6)
        assert y.abs().sum().item() == pytest.approx(abs_sum, rel=1e-5)
        assert y.norm().item() == pytest.approx(norm, rel=1e-5)


def test_stride_conv_equals_dilated_tcn_on_its_receptive_field():
    """use_stride_conv only skips unused frames: same weights, same output
    for a clip of prod(kernel_sizes) = 27 frames, causal or not."""
    torch.manual_seed(0)
    for causal in (False, True):
        dilated = TCN(6, stem_channels=8, kernel_sizes=(3, 3, 3), dropout=0.,
                      causal=causal).eval()
        strided = TCN(6, stem_channels=8, kernel_sizes=(3, 3, 3), dropout=0.,
                      causal=causal, use_stride_conv=True).eval()
        strided.load_state_dict(dilated.state_dict())
        x = torch.randn(2, 6, 27)
        a, b = dilated(x), strided(x)
        assert [tuple(t.shape) for t in a] == [(2, 8, 19), (2, 8, 1)]
        assert [tuple(t.shape) for t in b] == [(2, 8, 3), (2, 8, 1)]
        torch.testing.assert_close(a[-1], b[-1], rtol=1e-5, atol=1e-6)
        # on a longer clip the causal model's last output sees frames up to
        # the last one; the centred model's is centred on frame T - 14
        y = dilated(torch.randn(1, 6, 40))[-1]
        assert y.shape[-1] == 40 - 27 + 1


def test_tcn_max_norm_clips_conv_weights_before_forward():
    tcn = TCN(6, stem_channels=8, kernel_sizes=(3, 3), num_blocks=1,
              dropout=0., max_norm=0.5).eval()
    with torch.no_grad():
        tcn.expand_conv.conv.weight.mul_(100.)
    norm = tcn.expand_conv.conv.weight.norm().item()
    tcn(torch.randn(1, 6, 20))
    # scaled by 0.5 / (norm + 1e-6): just under 0.5
    assert tcn.expand_conv.conv.weight.norm().item() == pytest.approx(
        0.5 * norm / (norm + 1e-6), rel=1e-5)
    small = tcn.tcn_blocks[0].conv2[0].conv.weight.norm().item()
    assert small < 0.5 or small == pytest.approx(0.5, rel=1e-5)


def test_tcn_checks_its_arguments():
    with pytest.raises(ValueError, match='num_blocks'):
        TCN(6, num_blocks=3, kernel_sizes=(3, 3, 3))
    with pytest.raises(ValueError, match='odd'):
        TCN(6, kernel_sizes=(3, 4, 3))
    with pytest.raises(ValueError, match='receptive field'):
        TCN(6, stem_channels=8, dropout=0.)(torch.randn(1, 6, 12))


def _sample(label, weight, traj_weight=None, root=None):
    sample = PoseDataSample()
    labels = InstanceData(lifting_target_label=torch.as_tensor(label),
                          lifting_target_weight=torch.as_tensor(weight))
    if traj_weight is not None:
        labels.trajectory_weights = torch.as_tensor(traj_weight)
    sample.gt_instance_labels = labels
    meta = dict(flip_indices=list(range(label.shape[1])))
    if root is not None:
        meta['target_root'] = root
    sample.set_metainfo(meta)
    return sample


def _tiny_lifter(**kw):
    torch.manual_seed(0)
    backbone = dict(type='TCN', in_channels=4, stem_channels=8,
                    kernel_sizes=(3, 3, 3), dropout=0., use_stride_conv=True)
    cfg = dict(type='PoseLifter', backbone=backbone,
               head=dict(type='TemporalRegressionHead', in_channels=8,
                         num_joints=2, loss=dict(type='MPJPELoss')), **kw)
    return MODELS.build(cfg).eval()


def test_loss_mode_values():
    """loss_pose3d is the MPJPE of the tensor output; mpjpe leaves out
    keypoints of weight 0."""
    model = _tiny_lifter()
    x = torch.randn(2, 4, 27, generator=torch.Generator().manual_seed(3))
    pose = model(x, None, mode='tensor')
    assert pose.shape == (2, 2, 3)
    gt = np.zeros((1, 2, 3), np.float32)
    samples = [_sample(gt, np.array([[1., 0.]], np.float32)) for _ in range(2)]
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss_pose3d', 'mpjpe'}
    dist = pose.detach().norm(dim=-1)  # gt is 0
    assert losses['loss_pose3d'].item() == pytest.approx(dist.mean().item(), rel=1e-6)
    assert losses['mpjpe'].item() == pytest.approx(dist[:, 0].mean().item(), rel=1e-6)


def test_trajectory_head_loss_values():
    """A separate trajectory model (traj_backbone): loss_traj is
    mean |(pred - gt) * trajectory_weights|, mpjpe_traj unweighted."""
    torch.manual_seed(0)
    tcn = dict(type='TCN', in_channels=4, stem_channels=8,
               kernel_sizes=(3, 3, 3), dropout=0., use_stride_conv=True)
    model = MODELS.build(dict(
        type='PoseLifter', backbone=tcn, traj_backbone=tcn,
        traj_head=dict(type='TrajectoryRegressionHead', in_channels=8,
                       num_joints=1))).eval()
    assert model.with_traj and model.with_traj_backbone and not model.share_backbone
    x = torch.randn(2, 4, 27, generator=torch.Generator().manual_seed(3))
    feats, traj = model(x, None, mode='tensor')
    assert isinstance(feats, tuple) and traj.shape == (2, 1, 3)
    gt = np.ones((1, 1, 3), np.float32)
    samples = [_sample(gt, np.ones((1, 1)), np.array([[w]], np.float32))
               for w in (0.5, 2.)]
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss_traj', 'mpjpe_traj'}
    dist = (traj.detach() - 1).norm(dim=-1)[:, 0]
    assert losses['loss_traj'].item() == pytest.approx(
        (0.5 * dist[0] + 2 * dist[1]).item() / 2, rel=1e-6)
    assert losses['mpjpe_traj'].item() == pytest.approx(dist.mean().item(), rel=1e-6)


class _RecordingCodec:
    """Stands in for the lifting codec: adds the root, scores 1."""
    support_batch_decoding = False

    def decode(self, encoded, target_root):
        assert encoded.shape == (1, 2, 3)   # one sample, with a leading axis
        kpts = encoded + (target_root if target_root.size else 0.)
        return kpts, np.ones(kpts.shape[:-1], np.float32)


def test_predict_decodes_with_each_samples_target_root():
    model = _tiny_lifter(test_cfg=dict(output_keypoint_indices=[1]))
    model.head.decoder = _RecordingCodec()
    x = torch.randn(2, 4, 27, generator=torch.Generator().manual_seed(4))
    pose = model(x, None, mode='tensor')
    roots = [np.full((1, 3), 10., np.float32), np.full((1, 3), -5., np.float32)]
    samples = [_sample(np.zeros((1, 2, 3), np.float32), np.ones((1, 2)), root=r)
               for r in roots]
    out = model(x, samples, mode='predict')
    for i, s in enumerate(out):
        kpts = s.pred_instances.keypoints
        assert kpts.shape == (1, 1, 3)     # keypoint 1 kept
        np.testing.assert_allclose(kpts[0, 0], pose[i, 1].detach().numpy() + roots[i][0],
                                   rtol=1e-6)
        assert s.pred_instances.keypoint_scores.shape == (1, 1)


def _lifter_with_codec(kernels, num_joints, codec):
    tcn = dict(type='TCN', in_channels=34, stem_channels=64,
               num_blocks=len(kernels) - 1, kernel_sizes=kernels,
               use_stride_conv=True)
    model = MODELS.build(dict(type='PoseLifter', backbone=tcn, head=dict(
        type='TemporalRegressionHead', in_channels=64, num_joints=num_joints,
        loss=dict(type='MSELoss'), decoder=codec)))
    fill(model)
    return model.eval()


def test_predict_with_lifting_codecs_equals_mmpose():
    """Keypoints decoded by VideoPoseLifting (root added back) and
    ImagePoseLifting (de-standardised, root inserted); the values are
    MMPose 1.3.2's for the same weights, inputs and target roots."""
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(16, 3)).astype(np.float32)
    std = (rng.random((16, 3)) + 0.5).astype(np.float32)
    video = _lifter_with_codec((3, 3, 3), 17, dict(
        type='VideoPoseLifting', num_keypoints=17, zero_center=True,
        root_index=0, remove_root=False))
    image = _lifter_with_codec((1, 1, 1), 16, dict(
        type='ImagePoseLifting', num_keypoints=17, root_index=0,
        remove_root=True, target_mean=mean, target_std=std))
    golden = {  # per sample: first two keypoints, sum of |keypoints|
        'video': [([[0.005536, -0.184796, 4.082254], [-0.038915, -0.053938, 3.678169]],
                   74.04085),
                  ([[0.067292, -0.198318, 5.08023], [0.086731, -0.042049, 4.681594]],
                   91.20314)],
        'image': [([[0.0, -0.2, 4.0], [0.017921, -0.649919, 4.712505]], 95.07195),
                  ([[0.1, -0.2, 5.0], [0.126277, -0.649289, 5.734345]], 112.25505)]}
    for name, model, frames in (('video', video, 27), ('image', image, 1)):
        x = torch.randn(2, 34, frames, generator=torch.Generator().manual_seed(1)) * 0.3
        samples = []
        for i in range(2):
            sample = PoseDataSample()
            sample.set_metainfo(dict(target_root=np.array(
                [[0.1 * i, -0.2, 4.0 + i]], np.float32)))
            samples.append(sample)
        with torch.no_grad():
            out = model(x, samples, mode='predict')
        for sample, (first, abs_sum) in zip(out, golden[name]):
            kpts = sample.pred_instances.keypoints
            assert kpts.shape == (1, 17, 3)
            np.testing.assert_allclose(kpts[0, :2], first, atol=3e-6)
            assert np.abs(kpts).sum() == pytest.approx(abs_sum, rel=1e-5)
            np.testing.assert_array_equal(sample.pred_instances.keypoint_scores,
                                          np.ones((1, 17)))


def test_unsupported_options_raise():
    model = _tiny_lifter(test_cfg=dict(flip_test=True))
    model.head.decoder = _RecordingCodec()
    samples = [_sample(np.zeros((1, 2, 3), np.float32), np.ones((1, 2)))]
    with pytest.raises(ValueError, match='flip_test'):
        model(torch.randn(1, 4, 27), samples, mode='predict')
    semi = _tiny_lifter(semi_loss=dict(type='SemiSupervisionLoss',
                                       joint_parents=[0, 0]))
    with pytest.raises(NotImplementedError, match='semi_loss'):
        semi(torch.randn(1, 4, 27), samples, mode='loss')
    with pytest.raises(ValueError, match='traj_head'):
        _tiny_lifter(traj_backbone=dict(type='TCN', in_channels=4))


def test_list_of_per_sample_inputs_is_stacked():
    """The data loader gives a list of (K * 2, T) tensors (not images); the
    model stacks them into (N, K * 2, T), as MMPose's forward does."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='PoseLifter',
        backbone=dict(type='TCN', in_channels=34, stem_channels=8, num_blocks=1,
                      kernel_sizes=(3, 3), use_stride_conv=True),
        head=dict(type='TemporalRegressionHead', in_channels=8, num_joints=17,
                  loss=dict(type='MPJPELoss')))).eval()
    xs = [torch.randn(34, 9, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    with torch.no_grad():
        batched = model(torch.stack(xs), None, mode='tensor')
        listed = model(xs, None, mode='tensor')
    assert tuple(listed.shape) == (3, 17, 3)
    assert torch.equal(listed, batched)
