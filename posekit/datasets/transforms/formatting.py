"""``PackPoseInputs``: turn the results dict into ``(inputs, data_samples)``.

The last step of every pipeline. The image becomes a ``(C, H, W)`` tensor;
annotations and targets go into a :class:`~posekit.structures.PoseDataSample`
by three tables of ``results key -> packed name``:

- instance table -> ``gt_instances`` (numpy arrays, image-space annotations
  used by metrics and visualisation);
- label table -> ``gt_instance_labels`` (tensors, per-instance targets);
- field table -> ``gt_fields`` (tensors, dense targets: ``PixelData``, or
  ``MultilevelPixelData`` when the value is a list of levels).

A codec's own table (copied into the results by :class:`GenerateTarget`)
replaces the default table of the same kind, as in MMPose. Unlike MMPose, a
codec output that no table and no meta key takes raises: a target that
silently never reaches the head trains a model without its supervision.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch

from posekit.registry import TRANSFORMS
from posekit.structures import (InstanceData, MultilevelPixelData, PixelData,
                                PoseDataSample)

DEFAULT_META_KEYS = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index',
                     'ori_shape', 'img_shape', 'input_size', 'input_center',
                     'input_scale', 'flip', 'flip_direction', 'flip_indices',
                     'raw_ann_info', 'dataset_name')

# Codec outputs that are side information (normalisation statistics, root
# bookkeeping of pose-lifting codecs), not supervision: they reach the sample
# only when listed in meta_keys, and are otherwise left out on purpose.
CODEC_SIDE_INFO = frozenset({
    'keypoints_visible', 'keypoint_labels_visible', 'target_root',
    'target_root_index', 'target_root_removed', 'keypoints_mean',
    'keypoints_std', 'target_mean', 'target_std', 'camera_param', 'factor'})


_CV2_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32,
               np.float64)


class UnroutedTargetError(ValueError):
    """A codec output that has no destination in the packed data sample."""


def image_to_tensor(img: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """``(H, W[, C])`` array -> contiguous ``(C, H, W)`` tensor, same dtype.

    A list of images (e.g. video frames) gives ``(T, C, H, W)``.
    """
    if isinstance(img, np.ndarray):
        if img.ndim < 3:
            img = img[..., None]
        return torch.from_numpy(_hwc_to_chw(img))
    return torch.stack([image_to_tensor(i) for i in img])


def _hwc_to_chw(img: np.ndarray) -> np.ndarray:
    """A new contiguous ``(C, H, W)`` copy of an ``(H, W, C)`` array."""
    out = np.empty(img.shape[2:] + img.shape[:2], img.dtype)
    if img.dtype.type in _CV2_DTYPES and 1 < img.shape[2] <= 4:
        # cv2.split writes each channel straight into its plane of `out`,
        # about 3x faster than numpy's strided transpose copy
        planes = cv2.split(img, list(out))
        if all(np.may_share_memory(p, o) for p, o in zip(planes, out)):
            return out
    out[...] = img.transpose(2, 0, 1)
    return out


def keypoints_to_tensor(keypoints: np.ndarray | Sequence[np.ndarray]
                        ) -> torch.Tensor:
    """Keypoint array(s) -> contiguous tensor (a list is stacked)."""
    if isinstance(keypoints, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(keypoints))
    return torch.stack([keypoints_to_tensor(k) for k in keypoints])


@TRANSFORMS.register_module()
class PackPoseInputs:
    """Pack the results into the model's ``inputs`` and a ``PoseDataSample``.

    Required Keys:
        - img (np.ndarray | list[np.ndarray]): ``(H, W, C)`` image(s); or,
          for pose lifting (no image), ``lifting_target`` and ``keypoints``
          (``keypoint_labels`` is used as input when present).
        - any key of the three tables and of ``meta_keys`` (optional).
        - encoded_keys (tuple[str], optional): written by GenerateTarget.

    Returns a new dict:
        - inputs (torch.Tensor | list[torch.Tensor]): ``(C, H, W)``
          (``(T, C, H, W)`` for a list of images), contiguous, the image's
          dtype (``uint8`` stays ``uint8``; the data preprocessor normalises
          on the device). A multi-scale pyramid (a list of images with
          ``aug_scales`` in the results, from ``BottomupResize``) gives a
          list of ``(C, H_i, W_i)`` tensors, one per scale (MMPose tries to
          stack them, which fails for different sizes).
        - data_samples (PoseDataSample): ``gt_instances`` (numpy; bottom-up:
          all N instances, boxes ``(N, 4)`` or ``(N, 4, 2)`` corners),
          ``gt_instance_labels`` (tensors, lists of per-encoder labels
          stacked), ``gt_fields`` (tensors; ``MultilevelPixelData`` when the
          fields are lists of levels; only when a field is present) and
          metainfo from ``meta_keys`` present in the results (plus
          ``aug_scales`` for a pyramid, which the model needs).

    Args:
        meta_keys (Sequence[str]): Results keys copied into the metainfo.
            Defaults to MMPose's tuple, :data:`DEFAULT_META_KEYS`.
        pack_transformed (bool): Also put ``transformed_keypoints`` into
            ``gt_instances`` (for visualising augmentations). Defaults to
            False.

    Raises:
        UnroutedTargetError: A key listed in ``encoded_keys`` is in none of
            the effective tables, nor in ``meta_keys``, nor the input.
    """

    instance_mapping_table = dict(
        bbox='bboxes',
        bbox_score='bbox_scores',
        keypoints='keypoints',
        keypoints_cam='keypoints_cam',
        keypoints_visible='keypoints_visible',
        # CocoMetric computes instance areas from gt_instances.bbox_scales.
        bbox_scale='bbox_scales',
        # the head size normalises PCKh (MpiiPCKAccuracy).
        head_size='head_size',
    )
    field_mapping_table = dict(
        heatmaps='heatmaps',
        instance_heatmaps='instance_heatmaps',
        heatmap_mask='heatmap_mask',
        heatmap_weights='heatmap_weights',
        displacements='displacements',
        displacement_weights='displacement_weights',
    )
    label_mapping_table = dict(
        keypoint_labels='keypoint_labels',
        keypoint_weights='keypoint_weights',
        keypoints_visible_weights='keypoints_visible_weights',
    )

    def __init__(self,
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS,
                 pack_transformed: bool = False) -> None:
        self.meta_keys = tuple(meta_keys)
        self.pack_transformed = pack_transformed

    def __call__(self, results: dict) -> dict:
        inputs, input_key = self._pack_inputs(results)
        instance_table = results.get('instance_mapping_table',
                                     self.instance_mapping_table)
        label_table = results.get('label_mapping_table',
                                  self.label_mapping_table)
        field_table = results.get('field_mapping_table',
                                  self.field_mapping_table)
        self._check_routes(results, (instance_table, label_table, field_table),
                           input_key)

        sample = PoseDataSample()
        gt_instances = InstanceData()
        for key, name in instance_table.items():
            if key in results:
                gt_instances.set_field(results[key], name)
        if self.pack_transformed and 'transformed_keypoints' in results:
            gt_instances.set_field(results['transformed_keypoints'],
                                   'transformed_keypoints')
        sample.gt_instances = gt_instances

        labels = InstanceData()
        for key, name in label_table.items():
            if key in results:
                value = results[key]
                # several encoders give a list of same-shape labels
                labels.set_field(np.stack(value) if isinstance(value, list)
                                 else value, name)
        sample.gt_instance_labels = labels.to_tensor()

        fields = _pack_fields(results, field_table)
        if fields is not None:
            sample.gt_fields = fields.to_tensor()

        meta = {k: results[k] for k in self.meta_keys if k in results}
        if isinstance(inputs, list):  # the model needs the pyramid's scales
            meta['aug_scales'] = results['aug_scales']
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    @staticmethod
    def _pack_inputs(results: dict
                     ) -> tuple[torch.Tensor | list[torch.Tensor], str]:
        if 'img' in results:
            img = results['img']
            if isinstance(img, list) and results.get('aug_scales'):
                # an image pyramid (BottomupResize): sizes differ, no stack
                return [image_to_tensor(i) for i in img], 'img'
            return image_to_tensor(img), 'img'
        if 'lifting_target' in results and 'keypoints' in results:
            key = 'keypoint_labels' if 'keypoint_labels' in results else \
                'keypoints'
            return keypoints_to_tensor(results[key]), key
        raise KeyError('PackPoseInputs: the results have no "img" (nor '
                       '"lifting_target" and "keypoints" for pose lifting); '
                       'is LoadImage missing from the pipeline?')

    def _check_routes(self, results: dict, tables: tuple, input_key: str
                      ) -> None:
        routed = {input_key, *self.meta_keys, *CODEC_SIDE_INFO}
        for table in tables:
            routed.update(table)
        lost = [k for k in results.get('encoded_keys', ()) if k not in routed]
        if lost:
            raise UnroutedTargetError(
                f'PackPoseInputs: the codec output(s) {", ".join(map(repr, lost))} '
                'would be dropped: they are in none of the codec\'s '
                'field/label/instance mapping tables (or PackPoseInputs\' '
                'defaults) nor in meta_keys. Add them to the codec\'s '
                'label_mapping_table/field_mapping_table, or to PackPoseInputs('
                'meta_keys=...) if they are metainfo.')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(meta_keys={self.meta_keys}, '
                f'pack_transformed={self.pack_transformed})')


def _pack_fields(results: dict, table: dict
                 ) -> PixelData | MultilevelPixelData | None:
    """Dense targets: PixelData, or MultilevelPixelData for lists of levels."""
    fields = None
    for key, name in table.items():
        if key not in results:
            continue
        kind = MultilevelPixelData if isinstance(results[key], list) else \
            PixelData
        if fields is None:
            fields = kind()
        elif not isinstance(fields, kind):
            raise TypeError(
                f'PackPoseInputs: field {key!r} is '
                f'{"multi" if kind is MultilevelPixelData else "single"}'
                '-level but earlier fields are not; all dense targets of a '
                'sample must be single-level arrays or all lists of levels')
        fields.set_field(results[key], name)
    return fields
