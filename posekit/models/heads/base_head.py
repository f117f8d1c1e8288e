"""What every head shares: building its loss and codec, decoding outputs,
and reading targets out of data samples.

A head implements three calls, as MMPose's estimators make them:

- ``forward(feats)``: the raw output, from a tuple of feature maps;
- ``loss(feats, data_samples, train_cfg)``: a dict of losses
  (``loss_kpt``) and the training accuracy (``acc_pose``);
- ``predict(feats, data_samples, test_cfg)``: a list of InstanceData, one
  per sample, with ``keypoints (N, K, 2)`` and ``keypoint_scores (N, K)`` in
  input-image pixels (the estimator maps them to the original image). With
  ``test_cfg['flip_test']`` ``feats`` is ``[feats, feats_of_flipped_input]``.

Heads implement ``predict_with(forward, feats, ...)`` and ``predict`` passes
their own ``forward``: the flip-test merge and the decoding then also run
around another implementation of the network, such as an ONNX Runtime
session that maps input images to what ``forward`` returns.
"""
from typing import (Any, Callable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch
from torch import Tensor, nn

from posekit.evaluation.functional import keypoint_pck_accuracy
from posekit.models.utils import BaseModule
from posekit.registry import KEYPOINT_CODECS, MODELS
from posekit.structures import InstanceData, to_numpy

# Both registries return a non-mapping unchanged, so a built loss module or
# codec object can be passed wherever a config dict can.
ConfigOrObject = Union[Mapping, Any]


def build_loss(loss: ConfigOrObject) -> nn.Module:
    """A loss from a config dict, or the given module."""
    return MODELS.build(loss)


def build_decoder(decoder: Optional[ConfigOrObject]):
    """A codec from a config dict, the given codec, or None."""
    return None if decoder is None else KEYPOINT_CODECS.build(decoder)


def last_feature(feats: Sequence[Tensor]) -> Tensor:
    """The last (lowest resolution) map of a tuple of features."""
    if isinstance(feats, torch.Tensor):
        raise TypeError('heads take a tuple of feature maps (as backbones and '
                        'necks return), got a single tensor; wrap it: (x, )')
    return feats[-1]


def check_one_feature_map(head: nn.Module, in_channels: Any) -> None:
    """ValueError unless ``in_channels`` is one number: ``head`` reads the
    last feature map only (MMPose's heads take the same int)."""
    if isinstance(in_channels, (list, tuple)):
        raise ValueError(f'{type(head).__name__} takes one feature map: '
                         f'in_channels must be an int, got {in_channels}')


def _gather(data_samples: Sequence, container: str, name: str) -> list:
    """``d.<container>.<name>`` of every sample, with a clear error."""
    values = []
    for d in data_samples:
        value = d.get(container)
        value = None if value is None else value.get(name)
        if value is None:
            raise KeyError(f'a data sample has no {container}.{name}; the '
                           'codec given to GenerateTarget must produce it '
                           'for this head')
        values.append(torch.as_tensor(value))
    return values


def cat_labels(data_samples: Sequence, name: str,
               device: Optional[torch.device] = None) -> Tensor:
    """``gt_instance_labels.<name>`` of all samples, concatenated on dim 0."""
    return torch.cat(_gather(data_samples, 'gt_instance_labels', name)
                     ).to(device)


def stack_fields(data_samples: Sequence, name: str,
                 device: Optional[torch.device] = None) -> Tensor:
    """``gt_fields.<name>`` of all samples, stacked into a batch."""
    return torch.stack(_gather(data_samples, 'gt_fields', name)).to(device)


def split_flip_feats(feats: Any) -> Tuple[Any, Any]:
    """Flip-test features ``[feats, feats_of_flipped_input]`` -> a pair."""
    if not (isinstance(feats, (list, tuple)) and len(feats) == 2):
        raise ValueError('with flip_test, feats must be [feats, '
                         'feats_of_the_flipped_input]')
    return feats[0], feats[1]


def first_meta(data_samples: Sequence, key: str) -> Any:
    """Metainfo ``key`` of the first sample (flip test needs
    ``flip_indices`` and ``input_size``)."""
    value = data_samples[0].metainfo.get(key) if data_samples else None
    if value is None:
        raise KeyError(f'flip test needs metainfo {key!r} in the data '
                       'samples (set from the dataset meta info and the '
                       'pipeline)')
    return value


class BaseHead(BaseModule):
    """Base of all heads: holds ``loss_module`` and ``decoder``.

    Subclasses define ``forward``, ``predict_with`` and ``loss``.
    """

    decoder = None
    # Saved as the state dict's version metadata. MMPose 1.x heads that
    # convert 0.x weights on loading (HeatmapHead, CIDHead, DEKRHead...)
    # skip the conversion for version 2, so MMPose loads posekit's weights
    # unchanged; posekit itself converts by key names (heads/legacy.py).
    _version = 2

    def predict(self, feats: Any, batch_data_samples: Sequence,
                test_cfg: Optional[Mapping] = None) -> Any:
        """Decoded predictions of a batch: :meth:`predict_with` this head's
        :meth:`forward`. See the module docstring for the arguments."""
        return self.predict_with(self.forward, feats, batch_data_samples,
                                 test_cfg)

    def predict_with(self, forward: Callable[[Any], Any], feats: Any,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None) -> Any:
        """Flip-test merge and decoding of ``forward(feats)``.

        Args:
            forward (Callable): Stands in for :meth:`forward`: called on
                ``feats`` (and, with ``test_cfg['flip_test']``, on the
                features of the flipped input), it returns what
                :meth:`forward` would (a tensor, or a tuple or list of
                tensors).
            feats: Whatever ``forward`` takes: feature maps for
                :meth:`forward`, input images for an exported network; with
                flip test ``[feats, feats_of_flipped_input]``.
            batch_data_samples (list[PoseDataSample]): The batch's samples
                (flip test reads ``flip_indices`` and ``input_size`` from
                their metainfo).
            test_cfg (dict, optional): E.g. ``flip_test``,
                ``output_heatmaps``.

        Returns:
            list[InstanceData] (and, with ``output_heatmaps``, a list of
            PixelData): as ``predict``.
        """
        raise NotImplementedError(
            f'{type(self).__name__} does not implement predict_with(forward, '
            'feats, data_samples, test_cfg)')

    def decode(self, batch_outputs: Union[Tensor, Tuple[Tensor, ...]]
               ) -> List[InstanceData]:
        """Decode a batch of network outputs with the codec.

        Args:
            batch_outputs (Tensor | tuple[Tensor]): The head's output for a
                batch (a tuple, e.g. SimCC's x and y, is passed to the codec
                as separate arguments).

        Returns:
            list[InstanceData]: per sample, ``keypoints (N, K, D)``,
            ``keypoint_scores (N, K)`` and, if the codec gives it,
            ``keypoints_visible (N, K)``.
        """
        if self.decoder is None:
            raise RuntimeError(
                f'{type(self).__name__} has no decoder: pass decoder=<codec '
                'config> to it to use predict() or decode()')
        if self.decoder.support_batch_decoding:
            args = batch_outputs if isinstance(batch_outputs, tuple) else (
                batch_outputs, )
            keypoints, scores = self.decoder.batch_decode(*args)
            if isinstance(scores, tuple) and len(scores) == 2:
                scores, visibility = scores
            else:
                visibility = [None] * len(keypoints)
            results = list(zip(keypoints, scores, visibility))
        else:
            results = []
            arrays = to_numpy(batch_outputs)
            # per sample: an array (B, ...) or a tuple of them -> B items
            per_sample = (list(zip(*arrays)) if isinstance(arrays, (tuple, list))
                          else list(arrays))
            for outputs in per_sample:
                args = outputs if isinstance(outputs, tuple) else (outputs, )
                kpts, scores = self.decoder.decode(*args)
                visibility = None
                if isinstance(scores, tuple) and len(scores) == 2:
                    scores, visibility = scores
                results.append((kpts, scores, visibility))
        preds = []
        for kpts, scores, visibility in results:
            pred = InstanceData(keypoints=kpts, keypoint_scores=scores)
            if visibility is not None:
                pred.keypoints_visible = visibility
            preds.append(pred)
        return preds


def coords_accuracy(pred: Tensor, gt: Tensor, weights: Tensor) -> Tensor:
    """acc_pose of the regression heads: PCK@0.05 of normalised (N, K, 2)
    coordinates, keypoints of weight 0 left out."""
    _, avg_acc, _ = keypoint_pck_accuracy(
        pred=to_numpy(pred), gt=to_numpy(gt), mask=to_numpy(weights) > 0,
        thr=0.05, norm_factor=np.ones((pred.size(0), 2), dtype=np.float32))
    return torch.tensor(avg_acc, device=gt.device)
