"""Folding BatchNorm into the convolution before it, for inference.

In eval mode a BatchNorm is an affine map per channel, ``y = s * x + t``
with ``s = gamma / sqrt(running_var + eps)`` and
``t = beta - s * running_mean``; after a convolution it can be folded into
the convolution's weights and bias (``W' = s * W`` per output channel,
``b' = s * b + t``), which saves one pass over every feature map.

A pair is folded only when both of these hold:

* the BatchNorm is registered right after the convolution in the same
  parent module (``conv1``/``bn1``, a ConvModule's ``conv``/``bn``, a
  ``Sequential``'s consecutive entries), MMCV's rule for the same job;
* on an example forward, the BatchNorm's input *is* the tensor that
  convolution returned (data flow, not just layout), and each of the two
  modules ran exactly once.

The BatchNorm is then replaced by ``nn.Identity``, so the model's
``state_dict`` loses its keys: fold a model only for inference.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


def fold_batchnorm(model: nn.Module, run_example: Callable[[], Any]) -> int:
    """Fold every BatchNorm that directly follows a convolution (in place).

    Args:
        model (nn.Module): The network; put in eval mode here.
        run_example (callable): Runs one forward pass of ``model`` on an
            example input (any size the model accepts); it shows which
            BatchNorm reads which convolution's output.

    Returns:
        int: The number of BatchNorms folded.
    """
    model.eval()
    pairs = list(_adjacent_pairs(model))
    if not pairs:
        return 0
    calls: dict[int, list] = {}
    handles = []
    for _, conv, _, bn in pairs:
        handles.append(conv.register_forward_hook(
            lambda m, args, out: calls.setdefault(id(m), []).append(out)))
        handles.append(bn.register_forward_pre_hook(
            lambda m, args: calls.setdefault(id(m), []).append(args[0])))
    try:
        with torch.no_grad():
            run_example()
    finally:
        for handle in handles:
            handle.remove()
    folded = 0
    for parent, conv, bn_name, bn in pairs:
        conv_out, bn_in = calls.get(id(conv), []), calls.get(id(bn), [])
        if len(conv_out) == 1 and len(bn_in) == 1 and conv_out[0] is bn_in[0]:
            _fold(conv, bn)
            setattr(parent, bn_name, nn.Identity())
            folded += 1
    return folded


def _adjacent_pairs(model: nn.Module):
    """(parent, conv, BatchNorm name, BatchNorm) for each BatchNorm that is
    registered right after a foldable convolution in the same parent."""
    for parent in model.modules():
        previous = None
        for name, child in parent.named_children():
            if (isinstance(child, _BatchNorm) and _foldable(previous, child)):
                yield parent, previous, name, child
            previous = child


def _foldable(conv: nn.Module | None, bn: _BatchNorm) -> bool:
    if not isinstance(conv, _CONVS) or bn.running_mean is None:
        return False   # no conv before it, or a BatchNorm using batch statistics
    if conv.out_channels != bn.num_features:
        return False
    # a transposed conv's weight is (in, out / groups, ...): per-output
    # scaling is one broadcast only without groups
    return not (isinstance(conv, nn.ConvTranspose2d) and conv.groups != 1)


@torch.no_grad()
def _fold(conv: nn.Module, bn: _BatchNorm) -> None:
    weight, bias = folded_weights(conv, bn)
    conv.weight.copy_(weight)
    conv.bias = nn.Parameter(bias, requires_grad=False)


def folded_weights(conv: nn.Module, bn: _BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W', b')`` of the convolution with the (eval-mode) BatchNorm after
    it folded in (see the module docstring); differentiable in both."""
    scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) \
        / torch.sqrt(bn.running_var + bn.eps)
    shift = (bn.bias if bn.affine else torch.zeros_like(bn.running_mean)) \
        - scale * bn.running_mean
    out_dim = 1 if isinstance(conv, nn.ConvTranspose2d) else 0
    shape = [1] * conv.weight.dim()
    shape[out_dim] = -1
    weight = conv.weight * scale.reshape(shape).to(conv.weight.dtype)
    bias = shift if conv.bias is None else conv.bias * scale + shift
    return weight, bias.to(conv.weight.dtype)


def conv_bn_eval(conv: nn.Module, bn: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """``bn(conv(x))``; with the BatchNorm in eval mode (frozen statistics)
    one convolution with the folded weights instead: no feature map kept
    between the two for the backward pass, one pass less."""
    if bn.training or bn.running_mean is None:
        return bn(conv(x))
    return conv._conv_forward(x, *folded_weights(conv, bn))


def efficient_conv_bn_eval(module: nn.Module) -> int:
    """MMEngine's ``efficient_conv_bn_eval`` on ``module`` (in place): every
    convolution whose output only a BatchNorm reads runs as
    :func:`conv_bn_eval`. The call graph is ``torch.fx``'s trace of
    ``module.forward``; ``module.forward`` becomes the rewritten graph's.
    Parameters, buffers and ``state_dict`` keys stay as they are.

    Returns:
        int: The number of convolution-BatchNorm pairs rewritten.

    Raises:
        ValueError: ``torch.fx`` cannot trace the module.
    """
    import torch.fx as fx
    try:
        traced = fx.symbolic_trace(module)
    except Exception as error:   # fx raises many kinds on untraceable code
        raise ValueError(f'efficient_conv_bn_eval: torch.fx cannot trace '
                         f'{type(module).__name__} ({type(error).__name__}: {error})') from error
    named = dict(traced.named_modules())
    graph = traced.graph
    pairs = []
    for node in graph.nodes:
        if node.op != 'call_module' or not isinstance(named[node.target], _BatchNorm):
            continue
        source = node.args[0] if node.args else None
        if (isinstance(source, fx.Node) and source.op == 'call_module'
                and type(named[source.target]) in (nn.Conv1d, nn.Conv2d, nn.Conv3d)
                and len(source.users) == 1):
            pairs.append((source, node))
    for conv_node, bn_node in pairs:
        with graph.inserting_before(conv_node):
            conv = graph.get_attr(conv_node.target)
            bn = graph.get_attr(bn_node.target)
            fused = graph.call_function(conv_bn_eval, (conv, bn, conv_node.args[0]))
        bn_node.replace_all_uses_with(fused)
        graph.erase_node(bn_node)
        graph.erase_node(conv_node)
    graph.lint()
    traced.recompile()
    module.forward = traced.forward
    return len(pairs)
