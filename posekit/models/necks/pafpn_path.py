"""The top-down then bottom-up path that YOLOX's, RTMDet's and RT-DETR's
PAFPN necks share (Liu et al. 2018, Path Aggregation Network).

Inputs are ordered from the finest level (stride 8) to the coarsest. Going
top-down, the coarser map is reduced (1x1 conv), upsampled 2x and fused with
the next finer input by a block; going bottom-up, each output is
downsampled (stride-2 conv) and fused with the next coarser top-down map.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn


def pafpn_path(inputs: Sequence[torch.Tensor], reduce_layers: nn.ModuleList,
               upsample: Callable[[torch.Tensor], torch.Tensor],
               top_down_blocks: nn.ModuleList, downsamples: nn.ModuleList,
               bottom_up_blocks: nn.ModuleList) -> list[torch.Tensor]:
    """Run the two paths over L levels.

    Args:
        inputs: L maps (N, C_i, H_i, W_i), H_i = 2 * H_{i+1}.
        reduce_layers, top_down_blocks: L - 1 modules each, index 0 for the
            coarsest pair (levels L-1 -> L-2).
        upsample: 2x upsampling.
        downsamples, bottom_up_blocks: L - 1 modules each, index 0 for the
            finest pair (levels 0 -> 1).

    Returns:
        list[Tensor]: L maps, finest first. Concatenations put the upsampled
        (or downsampled) map first, as the reference weights expect.
    """
    num = len(inputs)
    if num != len(reduce_layers) + 1:
        raise ValueError(f'the neck was built for {len(reduce_layers) + 1} input levels, '
                         f'got {num}')
    inner = [inputs[-1]]
    for k, idx in enumerate(range(num - 1, 0, -1)):
        high = reduce_layers[k](inner[0])
        inner[0] = high          # the bottom-up path fuses the reduced map
        inner.insert(0, top_down_blocks[k](torch.cat([upsample(high), inputs[idx - 1]], 1)))
    outs = [inner[0]]
    for idx in range(num - 1):
        down = downsamples[idx](outs[-1])
        outs.append(bottom_up_blocks[idx](torch.cat([down, inner[idx + 1]], 1)))
    return outs
