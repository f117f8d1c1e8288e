"""RepVGG block (Ding et al. 2021) as MMPose builds it for RT-DETR's encoder.

Training form: act(bn(conv3x3(x)) + bn(conv1x1(x)) [+ bn(x)]), parameters
under ``branch_3x3``, ``branch_1x1`` (ConvModules) and ``branch_norm``.
:meth:`RepVGGBlock.switch_to_deploy` folds the branches into one 3x3 conv
``conv_reparam`` (same function in eval mode, one conv instead of two).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import ConvModule, build_activation_layer, build_norm_layer


def fuse_conv_bn(weight: torch.Tensor, bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of conv(x) (no bias) followed by eval-mode ``bn``.

    bn(conv(x)) = gamma / std * conv(x) + (beta - mean * gamma / std), with
    std = sqrt(running_var + eps): a conv whose kernel is scaled per output
    channel by gamma / std and whose bias is the second term.
    """
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    return weight * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


class RepVGGBlock(nn.Module):
    """3x3 conv-BN plus 1x1 conv-BN [plus BN of the input], then an activation.

    Args:
        in_channels (int), out_channels (int): Widths.
        stride, padding, dilation, groups: Of the 3x3 branch (the 1x1 branch
            has stride 1, no padding: use stride 1 and padding == dilation
            for same-size outputs of both).
        padding_mode (str): Only 'zeros' (what MMPose's block does whatever
            is given; other values are refused here).
        norm_cfg (dict): Norm of each branch. Default BN.
        act_cfg (dict): Activation after the sum. Default ReLU.
        without_branch_norm (bool): No identity branch (default True). When
            False, the identity branch ``branch_norm`` exists if the shapes
            allow it (in == out channels, stride 1, padding == dilation).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 padding: int = 1, dilation: int = 1, groups: int = 1,
                 padding_mode: str = 'zeros',
                 norm_cfg: dict | None = dict(type='BN'),  # noqa: B006 (never mutated)
                 act_cfg: dict | None = dict(type='ReLU'),  # noqa: B006 (never mutated)
                 without_branch_norm: bool = True, init_cfg: dict | None = None):
        super().__init__()
        if padding_mode != 'zeros':
            raise NotImplementedError(f'RepVGGBlock: padding_mode {padding_mode!r} is not '
                                      'supported (MMPose ignores it and pads with zeros)')
        if init_cfg is not None:
            raise NotImplementedError('RepVGGBlock: init_cfg is not supported')
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.branch_norm = None
        if (in_channels == out_channels and stride == 1 and padding == dilation
                and not without_branch_norm):
            self.branch_norm = build_norm_layer(norm_cfg, in_channels)[1]
        self.branch_3x3 = ConvModule(in_channels, out_channels, 3, stride=stride,
                                     padding=padding, dilation=dilation, groups=groups,
                                     norm_cfg=norm_cfg, act_cfg=None)
        self.branch_1x1 = ConvModule(in_channels, out_channels, 1, groups=groups,
                                     norm_cfg=norm_cfg, act_cfg=None)
        self.act = build_activation_layer(act_cfg) if act_cfg is not None else nn.Identity()
        self.deploy = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            return self.act(self.conv_reparam(x))
        out = self.branch_3x3(x) + self.branch_1x1(x)
        if self.branch_norm is not None:
            out = out + self.branch_norm(x)
        return self.act(out)

    def get_equivalent_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The 3x3 kernel (out, in / groups, 3, 3) and bias (out,) of the
        eval-mode block without its activation (branches need BN norms)."""
        for branch in (self.branch_3x3, self.branch_1x1):
            if not isinstance(branch.norm, nn.modules.batchnorm._BatchNorm):
                raise TypeError('RepVGGBlock can only fold BatchNorm branches, '
                                f'got {type(branch.norm).__name__}')
        kernel, bias = fuse_conv_bn(self.branch_3x3.conv.weight, self.branch_3x3.norm)
        k1, b1 = fuse_conv_bn(self.branch_1x1.conv.weight, self.branch_1x1.norm)
        kernel, bias = kernel + F.pad(k1, [1, 1, 1, 1]), bias + b1
        if self.branch_norm is not None:
            # The identity as a 3x3 kernel: 1 at the centre, from channel i
            # to channel i (its index within the group).
            per_group = self.in_channels // self.groups
            eye = torch.zeros_like(kernel)
            idx = torch.arange(self.in_channels)
            eye[idx, idx % per_group, 1, 1] = 1
            kid, bid = fuse_conv_bn(eye, self.branch_norm)
            kernel, bias = kernel + kid, bias + bid
        return kernel, bias

    @torch.no_grad()
    def switch_to_deploy(self, test_cfg: dict | None = None) -> None:
        """Replace the branches by ``conv_reparam`` (irreversible; eval only)."""
        if self.deploy:
            return
        kernel, bias = self.get_equivalent_kernel_bias()
        conv = self.branch_3x3.conv
        self.conv_reparam = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                                      stride=conv.stride, padding=conv.padding,
                                      dilation=conv.dilation, groups=conv.groups, bias=True)
        self.conv_reparam.weight.copy_(kernel)
        self.conv_reparam.bias.copy_(bias)
        del self.branch_3x3, self.branch_1x1
        self.branch_norm = None
        self.deploy = True
