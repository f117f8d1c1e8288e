"""CPMHead: one heatmap branch per stage of a multi-stage backbone
(Convolutional Pose Machines, Stacked Hourglass)."""
from typing import Callable, Mapping, Optional, Sequence, Union

from torch import Tensor, nn

from posekit.registry import MODELS
from .base_head import (BaseHead, ConfigOrObject, build_decoder, build_loss,
                        cat_labels, stack_fields)
from .heatmap_head import (FINAL_1X1, HEATMAP_INIT, MSE_LOSS, _check_pairs,
                           flip_test_heatmaps, heatmap_accuracy,
                           heatmap_predictions, make_deconv_layers,
                           make_final_layer)


@MODELS.register_module()
class CPMHead(BaseHead):
    """Stage i's feature map -> deconvs -> final conv -> heatmaps.

    Args:
        in_channels (int): Channels of each stage's feature map.
        out_channels (int): Heatmap channels (keypoints).
        num_stages (int): Number of stages (feature maps) expected.
        deconv_out_channels, deconv_kernel_sizes (tuple[int], optional):
            As :class:`HeatmapHead`; None for no deconv.
        final_layer (dict, optional): As :class:`HeatmapHead`.
        loss (dict | nn.Module | list): One loss for all stages, or one per
            stage. Stage losses are summed into ``loss_kpt``.
        decoder (dict | codec, optional): Codec for the last stage.
        init_cfg (dict | list[dict], optional): As :class:`HeatmapHead`.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 out_channels: int, num_stages: int,
                 deconv_out_channels: Optional[Sequence[int]] = None,
                 deconv_kernel_sizes: Optional[Sequence[int]] = None,
                 final_layer: Optional[Mapping] = FINAL_1X1,
                 loss: Union[ConfigOrObject, list] = MSE_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(list(HEATMAP_INIT) if init_cfg is None else init_cfg)
        self.num_stages = num_stages
        self.in_channels = in_channels
        self.out_channels = out_channels
        if isinstance(loss, list):
            if len(loss) != num_stages:
                raise ValueError(f'{len(loss)} losses for {num_stages} '
                                 'stages')
            self.loss_module = nn.ModuleList(build_loss(c) for c in loss)
        else:
            self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        if deconv_out_channels:
            _check_pairs(deconv_out_channels, deconv_kernel_sizes,
                         'deconv_out_channels and deconv_kernel_sizes')
            self.multi_deconv_layers = nn.ModuleList(
                make_deconv_layers(in_channels, deconv_out_channels,
                                   deconv_kernel_sizes)
                for _ in range(num_stages))
            in_channels = deconv_out_channels[-1]
        else:
            self.multi_deconv_layers = nn.ModuleList(
                nn.Identity() for _ in range(num_stages))
        self.multi_final_layers = nn.ModuleList(
            make_final_layer(in_channels, out_channels, final_layer)
            for _ in range(num_stages))

    def forward(self, feats: Sequence[Tensor]) -> list:
        """One feature map per stage -> one (B, K, H, W) heatmap per stage."""
        if len(feats) != self.num_stages:
            raise ValueError(f'CPMHead expects {self.num_stages} feature '
                             f'maps, got {len(feats)}')
        return [final(deconv(x)) for x, deconv, final in zip(
            feats, self.multi_deconv_layers, self.multi_final_layers)]

    def predict_with(self, forward: Callable[[object], list], feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None):
        """Decode the last stage's heatmaps (flip test as HeatmapHead);
        ``forward`` returns one heatmap per stage, as :meth:`forward`."""
        test_cfg = test_cfg or {}
        heatmaps = flip_test_heatmaps(lambda f: forward(f)[-1], feats,
                                      batch_data_samples, test_cfg)
        return heatmap_predictions(self, heatmaps, test_cfg)

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """Sum of the stage losses; acc_pose of the last stage."""
        preds = self.forward(feats)
        gt = stack_fields(batch_data_samples, 'heatmaps', preds[-1].device)
        weights = cat_labels(batch_data_samples, 'keypoint_weights',
                             preds[-1].device)
        loss = 0
        for i, pred in enumerate(preds):
            loss_fn = (self.loss_module[i] if isinstance(
                self.loss_module, nn.ModuleList) else self.loss_module)
            loss = loss + loss_fn(pred, gt, weights)
        return dict(loss_kpt=loss,
                    acc_pose=heatmap_accuracy(preds[-1], gt, weights))
