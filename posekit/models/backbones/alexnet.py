"""AlexNet (Krizhevsky et al. 2012), with MMPose's module names.

``features`` is one Sequential whose convs sit at indices 0, 3, 6, 8, 10
(ReLUs and max-pools between them), as in MMPose's (and torchvision's)
AlexNet; ``classifier`` (for 224x224 inputs) exists only when
``num_classes > 0``.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from posekit.registry import MODELS

from .base_backbone import BaseBackbone


@MODELS.register_module()
class AlexNet(BaseBackbone):
    """AlexNet backbone.

    Args:
        num_classes (int): > 0 adds the classifier and returns its
            (N, num_classes) scores instead of the features. Default -1.
        init_cfg (dict | list[dict], optional): Default None (PyTorch's
            default layer init).

    Input (N, 3, H, W); the features are (N, 256, H', W') with each of H', W'
    the size after an 11x11/4 conv (padding 2) and three 3x3/2 max-pools,
    e.g. 256x192 -> 7x5. Returns a one-element tuple.
    """

    def __init__(self, num_classes: int = -1, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        if num_classes > 0:
            self.classifier = nn.Sequential(
                nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
                nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
                nn.Linear(4096, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        x = self.features(x)
        if self.num_classes > 0:
            if x.shape[1:] != (256, 6, 6):
                raise ValueError(f'AlexNet classifier needs 224x224 inputs ((256, 6, 6) '
                                 f'features), got features of shape {tuple(x.shape[1:])}')
            x = self.classifier(x.flatten(1))
        return (x, )
