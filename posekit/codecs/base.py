"""The codec interface shared by every keypoint codec.

A codec turns keypoints into training targets (``encode``) and network
outputs back into keypoints (``decode``). In posekit the maths lives in pure
numpy functions (``posekit.codecs.utils``); a codec class only stores its
parameters and calls them.

Conventions: ``input_size`` is ``(w, h)`` of the network input and
``heatmap_size`` is ``(W, H)``, as in MMPose configs; arrays are ``(K, H, W)``
and keypoints ``(N, K, 2)`` with x first, in input-image pixels unless a
docstring says otherwise.
"""
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Tuple

import numpy as np


class BaseKeypointCodec(ABC):
    """Base class of keypoint codecs.

    Class attributes (read by ``GenerateTarget`` and ``PackPoseInputs``;
    treat them as read-only, they are plain containers so that pipeline
    results stay picklable):

    - ``auxiliary_encode_keys``: names of extra ``results`` entries that
      ``encode`` takes as keyword arguments beyond keypoints/visibility.
    - ``field_mapping_table``: encoded key -> ``gt_fields`` key (pixel-level
      targets such as heatmaps).
    - ``instance_mapping_table``: encoded key -> ``gt_instances`` key.
    - ``label_mapping_table``: encoded key -> ``gt_instance_labels`` key
      (per-instance training labels such as weights).
    """

    auxiliary_encode_keys: frozenset = frozenset()
    field_mapping_table: Dict[str, str] = {}
    instance_mapping_table: Dict[str, str] = {}
    label_mapping_table: Dict[str, str] = {}

    @abstractmethod
    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Keypoints (N, K, D) and visibility (N, K) -> dict of targets."""

    @abstractmethod
    def decode(self, encoded: Any) -> Tuple[np.ndarray, np.ndarray]:
        """One sample's network output -> keypoints (N, K, D), scores (N, K).
        """

    def batch_decode(self, batch_encoded: Any
                     ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Decode a whole batch at once (only some codecs can).

        Returns:
            tuple: lists (one entry per sample) of keypoints (N, K, D) and
            scores (N, K).
        """
        raise NotImplementedError(
            f'{type(self).__name__} decodes one sample at a time; use decode')

    @property
    def support_batch_decoding(self) -> bool:
        """True if this codec overrides :meth:`batch_decode`."""
        return type(self).batch_decode is not BaseKeypointCodec.batch_decode

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items()
                         if not k.startswith('_'))
        return f'{type(self).__name__}({args})'


def visibility_or_ones(keypoints: np.ndarray,
                       keypoints_visible: Optional[np.ndarray]) -> np.ndarray:
    """keypoints_visible as an array, or float32 ones of shape (N, K)."""
    if keypoints_visible is None:
        return np.ones(keypoints.shape[:2], dtype=np.float32)
    keypoints_visible = np.asarray(keypoints_visible)
    if keypoints_visible.shape != keypoints.shape[:2]:
        raise ValueError(f'keypoints_visible {keypoints_visible.shape} does '
                         f'not match keypoints {keypoints.shape} (N, K, D)')
    return keypoints_visible


def check_single_instance(codec: BaseKeypointCodec,
                          keypoints: np.ndarray) -> None:
    """Top-down heatmap codecs draw one instance: raise if N != 1."""
    if keypoints.ndim != 3 or keypoints.shape[0] != 1:
        raise ValueError(f'{type(codec).__name__} encodes one instance: '
                         f'keypoints must be (1, K, D), got {keypoints.shape}')
