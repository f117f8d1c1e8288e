"""The two modules of CID's head (Wang et al., CVPR 2022) and helpers.

- :class:`IIAModule` (instance information abstraction): a 1x1 conv gives
  K + 1 coupled heatmaps, the last one of instance roots; the feature vector
  under each root is the instance's representation.
- :class:`GFDModule` (global feature decoupling): the feature map, reduced to
  ``gfd_channels``, is modulated per instance by :class:`ChannelAttention`
  (channels scaled by a linear map of the instance vector) and
  :class:`SpatialAttention` (a mask from the instance similarity and the
  offsets to the root); a 1x1 conv then gives that instance's K heatmaps.

Roots are integer heatmap pixels ``(x, y)`` (column, row); pixel ``(x, y)``
has its centre at ``(x + 0.5, y + 0.5)``. Attribute names are MMPose's, so
its checkpoints load unchanged.
"""
from typing import Mapping, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.utils import BaseModule


def smooth_heatmaps(heatmaps: Tensor, blur_kernel_size: int) -> Tensor:
    """Mean of (B, C, H, W) maps and their box blur (stride 1, same size)."""
    blurred = F.avg_pool2d(heatmaps, blur_kernel_size, 1,
                           (blur_kernel_size - 1) // 2)
    return (heatmaps + blurred) / 2.0


class TruncSigmoid(nn.Module):
    """Sigmoid clamped to [min, max]: keeps log(p), log(1 - p) of the focal
    loss finite."""

    def __init__(self, min: float = 0.0, max: float = 1.0):
        super().__init__()
        self.min, self.max = min, max

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x).clamp(min=self.min, max=self.max)


class IIAModule(BaseModule):
    """Coupled heatmaps (K keypoints + 1 root channel) and root features.

    Args:
        in_channels (int): C of the feature map.
        out_channels (int): K + 1.
        clamp_delta (float): Heatmaps are clamped to [d, 1 - d].
        init_cfg (list[dict], optional): Weight initialisation.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 clamp_delta: float = 1e-4, init_cfg=None):
        super().__init__(init_cfg)
        self.keypoint_root_conv = nn.Conv2d(in_channels, out_channels, 1)
        self.sigmoid = TruncSigmoid(clamp_delta, 1 - clamp_delta)

    def forward(self, feats: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, K + 1, H, W) heatmaps in (0, 1)."""
        return self.sigmoid(self.keypoint_root_conv(feats))

    def forward_train(self, feats: Tensor, instance_coords: Tensor,
                      instance_imgids: Tensor) -> Tuple[Tensor, Tensor]:
        """Features (M, C) at the (M, 2) long ``(x, y)`` roots of images
        ``instance_imgids`` (M,), and the (B, K + 1, H, W) heatmaps."""
        x, y = instance_coords.long().unbind(1)
        return feats[instance_imgids, :, y, x], self.forward(feats)

    def forward_test(self, feats: Tensor, test_cfg: Mapping
                     ) -> Tuple[Tensor, Tensor, Tensor]:
        """Roots of one image: peaks of the smoothed root heatmap.

        Args:
            feats (Tensor): (1, C, H, W), or with ``flip_test`` (2, C, H, W)
                (the flipped image's features already flipped back), whose
                root maps are averaged.
            test_cfg (dict): ``blur_kernel_size`` (3), ``max_instances``
                (30), ``score_threshold`` (0.01), ``flip_test``.

        Returns:
            tuple: features (B * N, C) under the roots (image-major), roots
            (N, 2) long ``(x, y)``, scores (N,), by decreasing score.
        """
        W = feats.shape[-1]
        roots = self.forward(feats)[:, -1:]
        if test_cfg.get('flip_test', False):
            roots = roots.mean(dim=0, keepdim=True)
        roots = smooth_heatmaps(roots[:1],
                                test_cfg.get('blur_kernel_size', 3))
        peaks = roots * (hierarchical_pool(roots) == roots).float()
        peaks = peaks.reshape(-1)
        k = min(test_cfg.get('max_instances', 30), peaks.numel())
        scores, index = peaks.topk(k)
        keep = scores > test_cfg.get('score_threshold', 0.01)
        scores, index = scores[keep], index[keep]
        coords = torch.stack((index % W, index // W), dim=1)
        inst_feats = feats[:, :, coords[:, 1], coords[:, 0]]  # (B, C, N)
        return (inst_feats.transpose(1, 2).reshape(-1, feats.shape[1]),
                coords, scores)


def hierarchical_pool(heatmaps: Tensor) -> Tensor:
    """3x3 max pool, 5x5 when (H + W) / 2 > 200, 7x7 when > 300 (larger
    maps: farther apart peaks)."""
    size = (heatmaps.shape[-1] + heatmaps.shape[-2]) / 2.0
    kernel = 7 if size > 300 else 5 if size > 200 else 3
    return F.max_pool2d(heatmaps, kernel, 1, (kernel - 1) // 2)


class ChannelAttention(nn.Module):
    """Scale each of the gfd channels by a linear map of the instance."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.atn = nn.Linear(in_channels, out_channels)

    def forward(self, global_feats: Tensor, instance_feats: Tensor) -> Tensor:
        """(M, G, H, W) maps, (M, C) vectors -> (M, G, H, W)."""
        return global_feats * self.atn(instance_feats)[:, :, None, None]


class SpatialAttention(nn.Module):
    """Mask each map by where it resembles the instance, near its root."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.atn = nn.Linear(in_channels, out_channels)
        self.feat_stride = 4  # kept as MMPose has it; unused there too
        self.conv = nn.Conv2d(3, 1, 5, 1, 2)

    def forward(self, global_feats: Tensor, instance_feats: Tensor,
                instance_coords: Tensor) -> Tensor:
        """(M, G, H, W) maps, (M, C) vectors, (M, 2) ``(x, y)`` roots ->
        (M, G, H, W); the offsets root - pixel centre are in units of 32
        heatmap pixels."""
        M, _, H, W = global_feats.shape
        similarity = (global_feats * self.atn(instance_feats)[:, :, None, None]
                      ).sum(dim=1, keepdim=True)
        ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W),
                                indexing='ij')
        centres = torch.stack((xs, ys)).to(global_feats) + 0.5  # (2, H, W)
        offsets = (instance_coords.to(global_feats)[:, :, None, None]
                   - centres) / 32.0
        mask = self.conv(torch.cat((similarity, offsets), dim=1)).sigmoid()
        return global_feats * mask


class GFDModule(BaseModule):
    """Per-instance heatmaps from the shared feature map.

    Args:
        in_channels (int): C of the feature map.
        out_channels (int): K.
        gfd_channels (int): G, channels of the reduced map.
        clamp_delta (float): Heatmaps are clamped to [d, 1 - d].
        init_cfg (list[dict], optional): Weight initialisation.
    """

    def __init__(self, in_channels: int, out_channels: int, gfd_channels: int,
                 clamp_delta: float = 1e-4, init_cfg=None):
        super().__init__(init_cfg)
        self.conv_down = nn.Conv2d(in_channels, gfd_channels, 1)
        self.channel_attention = ChannelAttention(in_channels, gfd_channels)
        self.spatial_attention = SpatialAttention(in_channels, gfd_channels)
        self.fuse_attention = nn.Conv2d(gfd_channels * 2, gfd_channels, 1)
        self.heatmap_conv = nn.Conv2d(gfd_channels, out_channels, 1)
        self.sigmoid = TruncSigmoid(clamp_delta, 1 - clamp_delta)

    def forward(self, feats: Tensor, instance_feats: Tensor,
                instance_coords: Tensor, instance_imgids: Tensor) -> Tensor:
        """(B, C, H, W) maps; per instance (M, C) vectors, (M, 2) roots and
        (M,) image indices -> (M, K, H, W) heatmaps in (0, 1)."""
        maps = self.conv_down(feats)[instance_imgids]
        fused = torch.cat(
            (self.channel_attention(maps, instance_feats),
             self.spatial_attention(maps, instance_feats, instance_coords)),
            dim=1)
        fused = F.relu(self.fuse_attention(fused))
        return self.sigmoid(self.heatmap_conv(fused))
