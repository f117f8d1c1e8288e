"""``GenerateTarget``: encode keypoints into training targets with codec(s).

The codec (``posekit.codecs``) decides what the targets are: ``heatmaps``
``(K, H, W)`` for heatmap codecs, ``keypoint_labels`` for regression,
``keypoint_x_labels``/``keypoint_y_labels`` for SimCC, and nearly always
``keypoint_weights`` ``(N, K)``. Each codec also says where its outputs go in
the packed sample through its ``field_mapping_table`` (-> ``gt_fields``),
``label_mapping_table`` (-> ``gt_instance_labels``) and
``instance_mapping_table`` (-> ``gt_instances``). :class:`GenerateTarget`
copies those tables and the list of encoded keys into the results, and
:class:`PackPoseInputs` routes every encoded key, or raises if one has no
destination.
"""
from __future__ import annotations

import copy
import warnings
from typing import Mapping, Sequence

import numpy as np

from posekit.registry import KEYPOINT_CODECS, TRANSFORMS

MAPPING_TABLES = ('field_mapping_table', 'instance_mapping_table',
                  'label_mapping_table')


@TRANSFORMS.register_module()
class GenerateTarget:
    """Encode the (transformed) keypoints into targets.

    Keypoints are ``transformed_keypoints`` (input-space pixels, after
    :class:`TopdownAffine`) when present, else ``keypoints``. A visibility of
    shape ``(N, K, 2)`` is split first: channel 0 stays
    ``keypoints_visible``, channel 1 becomes ``keypoints_visible_weights``.

    With several encoders, their outputs are combined in one of two ways:

    - ``multilevel=False``: encoders of different kinds, e.g. heatmaps plus
      regression labels. Each key may come from one encoder only, except
      ``keypoint_weights``, which is kept as a list (one per encoder).
    - ``multilevel=True``: encoders of the same kind at several resolutions
      or sigmas. All must return the same keys; each key becomes a list over
      encoders (packed as ``MultilevelPixelData`` / stacked labels).

    Required Keys:
        - transformed_keypoints or keypoints (np.ndarray): ``(N, K, 2)``.
        - keypoints_visible (np.ndarray): ``(N, K)`` or ``(N, K, 2)``.
        - dataset_keypoint_weights (np.ndarray): ``(K,)``, only when
          ``use_dataset_keypoint_weights``.
        - the ``auxiliary_encode_keys`` of the codec(s), e.g. ``bbox``.

    Modified Keys:
        - keypoints_visible: ``(N, K)`` when it was ``(N, K, 2)``.

    Added Keys:
        - the codec outputs, e.g. heatmaps ``(K, H, W) float32`` and
          keypoint_weights ``(N, K) float32``.
        - keypoints_visible_weights (np.ndarray): ``(N, K)``, when split.
        - field_mapping_table, instance_mapping_table, label_mapping_table
          (dict): the codec(s)' tables, when not empty.
        - encoded_keys (tuple[str]): names of the codec outputs, checked by
          :class:`PackPoseInputs`.

    Args:
        encoder (dict | list[dict]): Codec config(s) for ``KEYPOINT_CODECS``
            (built codec objects are accepted too).
        target_type (str, optional): Deprecated and ignored (MMPose 0.x);
            the codec decides the target type.
        multilevel (bool): See above; needs a list of encoders. Defaults to
            False.
        use_dataset_keypoint_weights (bool): Multiply every encoder's
            ``keypoint_weights`` by ``dataset_keypoint_weights`` (the meta
            file's ``joint_weights``). Defaults to False.
    """

    def __init__(self,
                 encoder: Mapping | Sequence[Mapping],
                 target_type: str | None = None,
                 multilevel: bool = False,
                 use_dataset_keypoint_weights: bool = False) -> None:
        if target_type is not None:
            warnings.warn('GenerateTarget: target_type is deprecated and has '
                          'no effect; the codec decides the targets',
                          DeprecationWarning)
        self.encoder_cfg = copy.deepcopy(encoder)
        self.use_dataset_keypoint_weights = use_dataset_keypoint_weights
        self.multilevel = multilevel
        if isinstance(encoder, (list, tuple)):
            if not encoder:
                raise ValueError('GenerateTarget: the encoder list is empty')
            self.encoder = [KEYPOINT_CODECS.build(c) for c in encoder]
        else:
            if multilevel:
                raise ValueError('GenerateTarget: multilevel=True needs a '
                                 'list of encoders')
            self.encoder = KEYPOINT_CODECS.build(encoder)

    def __call__(self, results: dict) -> dict:
        if results.get('transformed_keypoints') is not None:
            keypoints = results['transformed_keypoints']
        elif results.get('keypoints') is not None:
            keypoints = results['keypoints']
        else:
            raise KeyError('GenerateTarget: the results have neither '
                           '"transformed_keypoints" nor "keypoints"')
        visible = results['keypoints_visible']
        if visible.ndim == 3 and visible.shape[2] == 2:
            visible, visible_weights = visible[..., 0], visible[..., 1]
            results['keypoints_visible'] = visible
            results['keypoints_visible_weights'] = visible_weights

        encoders = self.encoder if isinstance(self.encoder, list) else \
            [self.encoder]
        outputs = [self._encode(codec, keypoints, visible, results)
                   for codec in encoders]
        if not isinstance(self.encoder, list):
            encoded = outputs[0]
        elif self.multilevel:
            encoded = _stack_levels(outputs)
        else:
            encoded = _combine(outputs)
        if self.use_dataset_keypoint_weights and 'keypoint_weights' in encoded:
            encoded['keypoint_weights'] = _apply_dataset_weights(
                encoded['keypoint_weights'],
                results['dataset_keypoint_weights'])

        results.update(encoded)
        for name in MAPPING_TABLES:
            table = {}
            for codec in encoders:
                table.update(getattr(codec, name, None) or {})
            if table:
                results[name] = table
        earlier = tuple(results.get('encoded_keys', ()))
        results['encoded_keys'] = earlier + tuple(k for k in encoded
                                                  if k not in earlier)
        return results

    @staticmethod
    def _encode(codec, keypoints: np.ndarray, visible: np.ndarray,
                results: dict) -> dict:
        extra = {key: results.get(key)
                 for key in getattr(codec, 'auxiliary_encode_keys', ())}
        return codec.encode(keypoints=keypoints, keypoints_visible=visible,
                            **extra)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(encoder={self.encoder_cfg}, '
                f'use_dataset_keypoint_weights='
                f'{self.use_dataset_keypoint_weights}, '
                f'multilevel={self.multilevel})')


def _stack_levels(outputs: list[dict]) -> dict:
    """Multilevel: ``{key: [level0, level1, ...]}``; all keys must match."""
    keys = list(outputs[0])
    for i, out in enumerate(outputs[1:], start=1):
        if set(out) != set(keys):
            raise ValueError(
                'GenerateTarget(multilevel=True): every encoder must return '
                f'the same keys; encoder 0 gives {sorted(keys)}, encoder {i} '
                f'gives {sorted(out)}')
    return {key: [out[key] for out in outputs] for key in keys}


def _combine(outputs: list[dict]) -> dict:
    """Different encoders: disjoint keys, ``keypoint_weights`` as a list."""
    encoded: dict = {}
    weights = []
    for out in outputs:
        for key, value in out.items():
            if key == 'keypoint_weights':
                weights.append(value)
            elif key in encoded:
                raise ValueError(
                    f'GenerateTarget: two encoders both produce {key!r}; '
                    'with multilevel=False their outputs must not overlap '
                    '(except keypoint_weights)')
            else:
                encoded[key] = value
    if weights:
        encoded['keypoint_weights'] = weights
    return encoded


def _apply_dataset_weights(weights, dataset_weights: np.ndarray):
    """Multiply ``(N, K)`` weights (or a list of them) by ``(K,)`` weights.

    MMPose 1.3.2 forgets to store the product for a list of weights
    (several encoders); here every encoder's weights are scaled.
    """
    dataset_weights = np.asarray(dataset_weights)
    if isinstance(weights, list):
        return [w * dataset_weights for w in weights]
    return weights * dataset_weights
