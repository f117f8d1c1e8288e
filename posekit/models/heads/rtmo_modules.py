"""RTMO's building blocks (Lu et al., 2024): the conv branches and the
dynamic coordinate classifier (DCC).

DCC turns a person's pose vector into K keypoint tokens (a linear layer and
BatchNorm), mixes them with a gated attention unit, and scores each token
against ``num_bins`` x and y bins spread over the person's box padded by
``bbox_padding``: bin b of the box of centre c and size s sits at
``c + s * (b / (num_bins - 1) - 0.5)`` pixels and is encoded by a sine
position encoding of its offset from the cell's prior point. A softmax over
the bins and the expectation of the bin positions give the keypoint
(pixels of the network input). Names are MMPose's, so checkpoints load.
"""
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from posekit.models.utils import BaseModule, bias_init_with_prob
from posekit.models.utils.transformer import SinePositionalEncoding
from .rtmo_gau import GAUEncoder, ScalarScale
from .yoloxpose_head import BN_CFG, SILU_CFG, check_conv_bias, conv_stack

EPS = 1e-8
DCC_GAU_DEFAULTS = dict(s=128, expansion_factor=2, dropout_rate=0.0,
                        drop_path=0.0, act_fn='SiLU', use_rel_bias=False,
                        pos_enc='add')


class RTMOHeadModule(BaseModule):
    """RTMO's conv branches, one set per level.

    Each input level is split in two halves of channels: the first feeds
    the classification branch, the second the pose branch (grouped convs)
    predicting box, keypoint offsets (training only: the proxy poses used
    by the assigner), visibility, and the pose vector read by DCC.

    Args:
        num_keypoints (int): K.
        in_channels (int): Channels of each half, before ``widen_factor``.
        num_classes (int): Classes (1: person).
        widen_factor (float): Multiplies ``in_channels``,
            ``cls_feat_channels`` and ``channels_per_group``.
        cls_feat_channels (int): Channels of the classification branch.
        stacked_convs (int): Convs of the cls branch (pose: twice).
        num_groups (int): Groups of the pose branch convs after the first.
        channels_per_group (int): Pose branch width = ``num_groups *
            int(widen_factor * channels_per_group)``.
        pose_vec_channels (int): > 0: a 1x1 conv to this many pose vector
            channels; otherwise the pose branch features are the vector.
        featmap_strides (Sequence[int]): One per level (the head sets it).
        conv_bias, conv_cfg, norm_cfg, act_cfg: ConvModule's.
        init_cfg (dict, optional): Initialisation; the cls output biases
            are then set to ``-log(99)``.
    """

    def __init__(self, num_keypoints: int, in_channels: int,
                 num_classes: int = 1, widen_factor: float = 1.0,
                 cls_feat_channels: int = 256, stacked_convs: int = 2,
                 num_groups: int = 8, channels_per_group: int = 36,
                 pose_vec_channels: int = -1,
                 featmap_strides: Sequence[int] = (8, 16, 32),
                 conv_bias='auto', conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = BN_CFG,
                 act_cfg: Optional[dict] = SILU_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        check_conv_bias(conv_bias)
        self.num_classes = num_classes
        self.num_keypoints = num_keypoints
        self.cls_feat_channels = int(cls_feat_channels * widen_factor)
        self.in_channels = int(in_channels * widen_factor)
        self.stacked_convs = stacked_convs
        self.num_groups = num_groups
        self.channels_per_group = int(widen_factor * channels_per_group)
        self.pose_vec_channels = pose_vec_channels
        self.featmap_strides = featmap_strides
        conv = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg,
                    bias=conv_bias)
        levels = range(len(featmap_strides))
        pose_chn = num_groups * self.channels_per_group

        def out_convs(in_chn, channels):
            return nn.ModuleList(nn.Conv2d(in_chn, channels, 1)
                                 for _ in levels)

        self.conv_cls = nn.ModuleList(
            conv_stack(stacked_convs, self.in_channels,
                       self.cls_feat_channels, **conv) for _ in levels)
        self.out_cls = out_convs(self.cls_feat_channels, num_classes)
        self.conv_pose = nn.ModuleList(
            conv_stack(stacked_convs * 2, self.in_channels, pose_chn,
                       groups=num_groups, **conv) for _ in levels)
        self.out_bbox = out_convs(pose_chn, 4)
        self.out_kpt_reg = out_convs(pose_chn, num_keypoints * 2)
        self.out_kpt_vis = out_convs(pose_chn, num_keypoints)
        if pose_vec_channels > 0:
            self.out_pose = out_convs(pose_chn, pose_vec_channels)

    def init_weights(self) -> None:
        super().init_weights()
        for conv_cls in self.out_cls:
            conv_cls.bias.data.fill_(bias_init_with_prob(0.01))

    def forward(self, x: Sequence[Tensor]) -> Tuple[list, ...]:
        """Per level (B, 2C, H, W) -> five lists over the levels: cls
        logits (B, num_classes, H, W), box (B, 4, H, W), keypoint offsets
        (B, 2K, H, W; empty list in eval mode), visibility logits
        (B, K, H, W), pose vectors (B, pose_vec_channels, H, W)."""
        cls_scores, bbox_preds, kpt_offsets, kpt_vis, pose_feats = \
            [], [], [], [], []
        for i, feat in enumerate(x):
            cls_feat, reg_feat = feat.split(feat.size(1) // 2, 1)
            cls_feat = self.conv_cls[i](cls_feat)
            reg_feat = self.conv_pose[i](reg_feat)
            cls_scores.append(self.out_cls[i](cls_feat))
            bbox_preds.append(self.out_bbox[i](reg_feat))
            if self.training:
                kpt_offsets.append(self.out_kpt_reg[i](reg_feat))
            kpt_vis.append(self.out_kpt_vis[i](reg_feat))
            pose_feats.append(self.out_pose[i](reg_feat)
                              if self.pose_vec_channels > 0 else reg_feat)
        return cls_scores, bbox_preds, kpt_offsets, kpt_vis, pose_feats


class DCC(BaseModule):
    """Dynamic coordinate classifier (see the module docstring).

    Args:
        in_channels (int): Pose vector channels.
        num_keypoints (int): K.
        feat_channels (int): Keypoint token channels.
        num_bins (tuple[int, int]): Bins in x and y.
        spe_channels (int): Channels of the bins' sine encoding.
        spe_temperature (float): Its temperature.
        gau_cfg (dict, optional): :class:`GAUEncoder` arguments (token
            sizes are set here); None: no attention. With ``pos_enc``
            'add' or 'rope' a learnt ``pos_enc`` (K, s) is its position
            encoding.
    """

    def __init__(self, in_channels: int, num_keypoints: int,
                 feat_channels: int, num_bins: Tuple[int, int],
                 spe_channels: int = 128, spe_temperature: float = 300.0,
                 gau_cfg: Optional[Mapping] = DCC_GAU_DEFAULTS):
        super().__init__()
        self.in_channels = in_channels
        self.num_keypoints = num_keypoints
        self.feat_channels = feat_channels
        self.num_bins = num_bins
        self.gau_cfg = gau_cfg
        self.spe = SinePositionalEncoding(out_channels=spe_channels,
                                          temperature=spe_temperature)
        self.spe_feat_channels = spe_channels
        if gau_cfg is not None:
            gau_cfg = dict(gau_cfg, in_token_dims=feat_channels,
                           out_token_dims=feat_channels)
            self.gau = GAUEncoder(**gau_cfg)
            if gau_cfg.get('pos_enc', 'none') in ('add', 'rope'):
                self.pos_enc = nn.Parameter(
                    torch.randn(num_keypoints, gau_cfg['s']))
        self.pose_to_kpts = nn.Sequential(
            nn.Linear(in_channels, feat_channels * num_keypoints),
            nn.BatchNorm1d(feat_channels * num_keypoints))
        self.x_fc = nn.Linear(spe_channels, feat_channels)
        self.y_fc = nn.Linear(spe_channels, feat_channels)
        self.sigma_fc = nn.Sequential(nn.Linear(in_channels, num_keypoints),
                                      nn.Sigmoid(), ScalarScale(0.1))
        self.register_buffer('y_bins', torch.linspace(-0.5, 0.5, num_bins[1]))
        self.register_buffer('x_bins', torch.linspace(-0.5, 0.5, num_bins[0]))

    def _bins(self, bbox_cs: Tensor, grids: Optional[Tensor] = None
              ) -> Tuple[Tensor, Tensor]:
        """(P, num_bins_x) and (P, num_bins_y) bin positions of each box
        (pixels; relative to ``grids`` (P, 2) if given)."""
        center, scale = bbox_cs.split(2, dim=-1)
        if grids is not None:
            center = center - grids
        lead = (1, ) * (scale.ndim - 1)
        x_bins = self.x_bins.view(*lead, -1) * scale[..., 0:1] + \
            center[..., 0:1]
        y_bins = self.y_bins.view(*lead, -1) * scale[..., 1:2] + \
            center[..., 1:2]
        return x_bins, y_bins

    def _get_bin_enc(self, bbox_cs: Tensor, grids: Tensor
                     ) -> Tuple[Tensor, Tensor]:
        """Encodings (P, bins, feat_channels) of the x and y bins, from
        their offsets to the prior points ``grids`` (P, 2)."""
        x_bins, y_bins = self._bins(bbox_cs, grids)
        return (self.x_fc(self.spe(position=x_bins)),
                self.y_fc(self.spe(position=y_bins)))

    def _pose_feats_to_heatmaps(self, pose_feats: Tensor, x_bins_enc: Tensor,
                                y_bins_enc: Tensor) -> Tuple[Tensor, Tensor]:
        """Pose vectors (P, in_channels) -> x and y logits (P, K, bins)."""
        kpt_feats = self.pose_to_kpts(pose_feats)
        kpt_feats = kpt_feats.reshape(*kpt_feats.shape[:-1],
                                      self.num_keypoints, self.feat_channels)
        if hasattr(self, 'gau'):
            kpt_feats = self.gau(kpt_feats,
                                 pos_enc=getattr(self, 'pos_enc', None))
        x_hms = torch.matmul(kpt_feats, x_bins_enc.transpose(-1, -2))
        y_hms = torch.matmul(kpt_feats, y_bins_enc.transpose(-1, -2))
        return x_hms, y_hms

    @staticmethod
    def _apply_softmax(x_hms: Tensor, y_hms: Tensor) -> Tuple[Tensor, Tensor]:
        """Softmax over the bins, logits clamped to +-5e4 and 1e-8 added
        to the denominator (as MMPose, so probabilities sum to 1 - ~1e-8)."""
        def softmax(hms):
            hms = hms.clamp(min=-5e4, max=5e4)
            e = (hms - hms.max(dim=-1, keepdim=True).values.detach()).exp()
            return e / (e.sum(dim=-1, keepdim=True) + EPS)
        return softmax(x_hms), softmax(y_hms)

    def _decode_xy_heatmaps(self, x_hms: Tensor, y_hms: Tensor,
                            bbox_cs: Tensor) -> Tensor:
        """Expected bin positions: (P, K, 2) keypoints, pixels."""
        x_bins, y_bins = self._bins(bbox_cs)
        x = (x_hms * x_bins.unsqueeze(1)).sum(dim=-1)
        y = (y_hms * y_bins.unsqueeze(1)).sum(dim=-1)
        return torch.stack((x, y), dim=-1)

    def generate_target_heatmap(self, kpt_targets: Tensor, bbox_cs: Tensor,
                                sigmas: Tensor, areas: Tensor
                                ) -> Tuple[Tensor, Tensor]:
        """Laplace-shaped x and y targets (P, K, bins), unnormalised:
        ``exp(-|bin - kpt| / (2 sqrt(area) sigma)) / sigma``, sigma
        (P, K) clipped at 1e-3, sqrt(area) at 1."""
        x_bins, y_bins = self._bins(bbox_cs)
        dist_x = torch.abs(kpt_targets.narrow(2, 0, 1) - x_bins.unsqueeze(1))
        dist_y = torch.abs(kpt_targets.narrow(2, 1, 1) - y_bins.unsqueeze(1))
        areas = areas.pow(0.5).clip(min=1).reshape(-1, 1, 1)
        sigmas = sigmas.clip(min=1e-3).unsqueeze(2)
        dist_x = dist_x / areas / sigmas
        dist_y = dist_y / areas / sigmas
        return (torch.exp(-dist_x / 2) / sigmas,
                torch.exp(-dist_y / 2) / sigmas)

    def forward_train(self, pose_feats: Tensor, bbox_cs: Tensor,
                      grids: Tensor) -> Tuple[Tensor, tuple, Tensor]:
        """Keypoints (P, K, 2), (x, y) probabilities (P, K, bins) and
        sigmas (P, K) of P positives: pose vectors (P, in_channels), boxes
        as centre + padded scale (P, 4), prior points (P, 2)."""
        sigmas = self.sigma_fc(pose_feats)
        x_bins_enc, y_bins_enc = self._get_bin_enc(bbox_cs, grids)
        hms = self._apply_softmax(*self._pose_feats_to_heatmaps(
            pose_feats, x_bins_enc, y_bins_enc))
        return self._decode_xy_heatmaps(*hms, bbox_cs), hms, sigmas

    @torch.no_grad()
    def forward_test(self, pose_feats: Tensor, bbox_cs: Tensor,
                     grids: Tensor) -> Tensor:
        """Keypoints (P, K, 2), pixels; arguments as :meth:`forward_train`.
        After :meth:`switch_to_deploy` the expectation is taken relative to
        the prior point, then the point added back (MMPose's deploy graph;
        equal up to float rounding)."""
        x_bins_enc, y_bins_enc = self._get_bin_enc(bbox_cs, grids)
        x_hms, y_hms = self._apply_softmax(*self._pose_feats_to_heatmaps(
            pose_feats, x_bins_enc, y_bins_enc))
        if not getattr(self, 'deploy', False):
            return self._decode_xy_heatmaps(x_hms, y_hms, bbox_cs)
        x_bins, y_bins = self._bins(bbox_cs, grids)
        x = (x_hms * x_bins.unsqueeze(-2)).sum(dim=-1) + grids[..., 0:1]
        y = (y_hms * y_bins.unsqueeze(-2)).sum(dim=-1) + grids[..., 1:2]
        return torch.stack((x, y), dim=-1)

    def switch_to_deploy(self, test_cfg: Optional[Dict] = None) -> None:
        """Fold ``pose_to_kpts``'s BatchNorm into its Linear (for ONNX):
        ``pose_to_kpts`` becomes the Linear alone, so the state_dict keys
        ``pose_to_kpts.0.*``/``.1.*`` become ``pose_to_kpts.*``, as in
        MMPose; fold ``pos_enc`` into the GAU (:meth:`GAUEncoder.
        fold_pos_enc`)."""
        if getattr(self, 'deploy', False):
            return
        fc, bn = self.pose_to_kpts
        std = (bn.running_var + bn.eps).sqrt()
        fc.weight.data = (fc.weight * (bn.weight / std).unsqueeze(1)).detach()
        fc.bias.data = (bn.bias + (fc.bias - bn.running_mean) * bn.weight /
                        std).detach()
        self.pose_to_kpts = fc
        # MMPose folds the position encoding even for 'rope', where adding
        # it is wrong; posekit keeps the rotation there
        if hasattr(self, 'gau') and self.gau.pos_enc != 'rope':
            self.gau.fold_pos_enc(getattr(self, 'pos_enc', None))
        self.deploy = True
