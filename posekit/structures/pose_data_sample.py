"""PoseDataSample: all that is known about one sample, passed around."""
from .data_element import BaseDataElement
from .instance_data import InstanceData
from .multilevel_pixel_data import MultilevelPixelData
from .pixel_data import PixelData


def _typed_field(name: str, doc: str) -> property:
    """A property reading data field ``name``; writes go through set_field.

    The value lives in ``__dict__[name]`` like any other data field, so
    ``'gt_instances' in sample``, ``keys()`` and ``to_dict()`` use the public
    name. The type check is in ``set_field`` (via ``_field_types``), so it
    also applies to ``set_field(value, name)`` and ``set_data``.
    """

    def getter(self):
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no '{name}' yet; assign it "
                'first') from None

    def setter(self, value):
        self.set_field(value, name)

    return property(getter, setter, doc=doc)


class PoseDataSample(BaseDataElement):
    """Annotations, predictions and metainfo of one pose sample.

    Typed data fields (assigning another type raises ``TypeError``; reading
    one that was never set raises ``AttributeError``; ``del`` removes it):

    - ``gt_instances`` (InstanceData): ground-truth instances, e.g.
      ``bboxes (N, 4)`` xyxy pixels, ``keypoints (N, K, 2)``,
      ``keypoints_visible (N, K)``, in the original image space.
    - ``gt_instance_labels`` (InstanceData): training targets produced by a
      codec, e.g. ``keypoint_labels``, ``keypoint_weights (N, K)``.
    - ``gt_fields`` (PixelData | MultilevelPixelData): dense targets such as
      ``heatmaps (K, H, W)``.
    - ``pred_instances`` (InstanceData): predictions, ``keypoints (N, K, 2)``
      and ``keypoint_scores (N, K)`` in original image pixels.
    - ``pred_fields`` (PixelData): dense predictions, e.g. heatmaps.

    Other data fields may be set freely. Metainfo (``img_shape``,
    ``input_center``, ``flip``...) is set with ``metainfo=`` or
    ``set_metainfo``.

    Examples:
        >>> sample = PoseDataSample(metainfo=dict(img_shape=(600, 900)))
        >>> sample.gt_instances = InstanceData(bboxes=np.zeros((1, 4)))
        >>> 'gt_instances' in sample, sample.img_shape
        (True, (600, 900))
    """

    _field_types: dict = {
        'gt_instances': InstanceData,
        'gt_instance_labels': InstanceData,
        'pred_instances': InstanceData,
        'gt_fields': (PixelData, MultilevelPixelData),
        'pred_fields': PixelData,
    }

    gt_instances = _typed_field(
        'gt_instances', 'InstanceData: ground-truth instances.')
    gt_instance_labels = _typed_field(
        'gt_instance_labels', 'InstanceData: per-instance training targets.')
    pred_instances = _typed_field(
        'pred_instances', 'InstanceData: predicted instances.')
    gt_fields = _typed_field(
        'gt_fields', 'PixelData | MultilevelPixelData: dense targets.')
    pred_fields = _typed_field('pred_fields',
                               'PixelData: dense predictions.')

