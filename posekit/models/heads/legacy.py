"""Rename head weights saved by MMPose 0.x to the 1.x names.

Many checkpoints that MMPose 1.x configs point to were trained with MMPose
0.x, whose heads named some submodules differently. MMPose converts them in
load-time hooks inside the head classes; posekit keeps the classes plain and
does it here, on the state dict, before ``load_state_dict``:

- HeatmapHead / ViPNASHead (0.x ``TopdownHeatmapSimpleHead``): the
  intermediate convs and the last conv were one ``final_layer`` Sequential:
  ``final_layer.<i>.<p>`` is ``conv_layers.<i>.<p>`` for the conv layers
  and ``final_layer.<p>`` for the last one.
- RegressionHead / RLEHead (0.x ``DeepposeRegressionHead``): the loss was
  ``loss``, now ``loss_module`` (RLE's flow weights live there).
- IntegralRegressionHead / DSNTHead: a SimpleBaseline checkpoint used as
  initialisation has ``conv_layers`` and ``final_layer`` where these heads
  have ``simplebaseline_head.deconv_layers`` and
  ``simplebaseline_head.final_layer``.
- CIDHead: the 0.x layers sat on the head itself; 1.x groups them in
  ``iia_module`` (``keypoint_center_conv`` is ``keypoint_root_conv``) and
  ``gfd_module`` (``conv_down``, ``c_attn`` -> ``channel_attention``,
  ``s_attn`` -> ``spatial_attention``, ``fuse_attn`` -> ``fuse_attention``,
  ``heatmap_conv``).
- DEKRHead: a head with ``offset_conv_layers`` is a 0.x one. Those are
  ``displacement_conv_layers``, and the last layer's weights change sign
  (0.x offsets point from the keypoint to the root, 1.x displacements from
  the root to the keypoint); the root heatmap moves from the first output
  channel of ``heatmap_conv_layers.2`` to the last; the estimator's
  ``rescore_net`` moves into the head.

Keys already in 1.x form are left alone, so applying this to a 1.x
checkpoint changes nothing. :func:`upgrade_legacy_keys` also renames the
estimator's ``keypoint_head.`` (0.x) to ``head.``; ``init_model`` and the
runner's checkpoint loading apply it.
"""
from typing import Dict

import torch
from torch import nn

from .cid_head import CIDHead
from .dekr_head import DEKRHead
from .heatmap_head import HeatmapHead
from .integral_regression_head import IntegralRegressionHead
from .regression_head import RegressionHead


_CID_GFD_NAMES = dict(conv_down='conv_down', c_attn='channel_attention',
                      s_attn='spatial_attention', fuse_attn='fuse_attention',
                      heatmap_conv='heatmap_conv')


def _rename(key: str, head: nn.Module) -> str:
    parts = key.split('.')
    if isinstance(head, HeatmapHead):
        if parts[0] == 'final_layer' and len(parts) == 3:
            convs = head.conv_layers
            if isinstance(convs, nn.Sequential) and int(parts[1]) < len(convs):
                return 'conv_layers.' + '.'.join(parts[1:])
            return 'final_layer.' + parts[2]
    elif isinstance(head, RegressionHead):
        if parts[0] == 'loss':
            return 'loss_module.' + '.'.join(parts[1:])
    elif isinstance(head, CIDHead):
        if parts[0] == 'keypoint_center_conv':
            return 'iia_module.keypoint_root_conv.' + '.'.join(parts[1:])
        if parts[0] in _CID_GFD_NAMES:
            return ('gfd_module.' + _CID_GFD_NAMES[parts[0]] + '.'
                    + '.'.join(parts[1:]))
    elif isinstance(head, IntegralRegressionHead):
        if head.simplebaseline_head is not None:
            if parts[0] == 'conv_layers':
                return 'simplebaseline_head.deconv_layers.' + '.'.join(
                    parts[1:])
            if parts[0] == 'final_layer':
                return 'simplebaseline_head.' + key
    return key


def upgrade_legacy_head_keys(head: nn.Module, state_dict: Dict,
                             prefix: str = 'head.') -> Dict:
    """Return ``state_dict`` with the keys under ``prefix`` renamed for
    ``head`` and the heads nested in it (SimCCHead's ``deconv_head``...),
    outer ones first; see the module docstring. Other keys are kept.

    Args:
        head (nn.Module): The head the weights are loaded into.
        state_dict (dict): Checkpoint weights, e.g. a whole model's.
        prefix (str): Where the head's keys start ('head.' in a pose
            estimator, '' for the head's own state dict).

    Returns:
        dict: A new dict, in the same order.
    """
    out = dict(state_dict)
    for name, module in head.named_modules():
        sub = prefix + (name + '.' if name else '')
        if isinstance(module, DEKRHead):
            out = _upgrade_dekr(out, sub)
        out = {(sub + _rename(k[len(sub):], module) if k.startswith(sub)
                else k): v for k, v in out.items()}
    return out


def _upgrade_dekr(state_dict: Dict, sub: str) -> Dict:
    """A 0.x DEKR head's weights under ``sub`` in 1.x form (module
    docstring); 1.x weights are returned unchanged."""
    old = sub + 'offset_conv_layers.'
    if not any(k.startswith(old) for k in state_dict):
        return state_dict
    out = {}
    for key, value in state_dict.items():
        if key.startswith(old):
            rest = key[len(old):]
            key = sub + 'displacement_conv_layers.' + rest
            if rest.startswith('3.'):
                value = -value
        elif key.startswith(sub + 'heatmap_conv_layers.2.'):
            value = torch.cat((value[1:], value[:1]))
        out[key] = value
    return out


def upgrade_legacy_keys(model: nn.Module, state_dict: Dict) -> Dict:
    """A pose estimator's MMPose 0.x weights in 1.x form.

    ``keypoint_head.*`` becomes ``head.*`` (when the checkpoint has no
    ``head.*``), then :func:`upgrade_legacy_head_keys` renames the head's
    layers. A model without a ``head`` gets ``state_dict`` unchanged.
    """
    head = getattr(model, 'head', None)
    if not isinstance(head, nn.Module):
        return state_dict
    if not any(k.startswith('head.') for k in state_dict):
        state_dict = {('head.' + k[len('keypoint_head.'):]
                       if k.startswith('keypoint_head.') else k): v
                      for k, v in state_dict.items()}
    if isinstance(head, DEKRHead):   # 0.x kept the rescore net outside
        state_dict = {('head.' + k if k.startswith('rescore_net.') else k): v
                      for k, v in state_dict.items()}
    return upgrade_legacy_head_keys(head, state_dict)
