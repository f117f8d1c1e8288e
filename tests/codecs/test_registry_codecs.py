"""Every registered codec: builds from a config dict, encodes and decodes a
small batch with the documented keys, shapes and dtypes, and routes every
encoded key through its mapping tables (timm style: new codecs are picked up
from the registry and must add an example below)."""
import numpy as np
import pytest

from posekit.codecs import BaseKeypointCodec
from posekit.registry import KEYPOINT_CODECS

INPUT = (192, 256)      # (w, h)
HEATMAP = (48, 64)      # (W, H)
K = 5


def _heatmaps(enc):
    return (enc['heatmaps'],)


def _simcc(enc):
    # a head hands over one sample: (K, Wx) and (K, Wy)
    return enc['keypoint_x_labels'][0], enc['keypoint_y_labels'][0]


def _labels(enc):
    return (enc['keypoint_labels'],)


# name -> (example config, what the head would pass to decode)
EXAMPLES = {
    'MSRAHeatmap': (dict(input_size=INPUT, heatmap_size=HEATMAP, sigma=2),
                    _heatmaps),
    'UDPHeatmap': (dict(input_size=INPUT, heatmap_size=HEATMAP), _heatmaps),
    'MegviiHeatmap': (dict(input_size=INPUT, heatmap_size=HEATMAP,
                           kernel_size=11), _heatmaps),
    'RegressionLabel': (dict(input_size=INPUT), _labels),
    'IntegralRegressionLabel': (dict(input_size=INPUT, heatmap_size=HEATMAP,
                                     sigma=2), _labels),
    'SimCCLabel': (dict(input_size=INPUT), _simcc),
}


# bottom-up codecs (many instances, own decode signatures): value tests in
# their own files; here only build, routing and the empty decode
BOTTOM_UP = {
    'AssociativeEmbedding': dict(input_size=INPUT, heatmap_size=HEATMAP,
                                 decode_keypoint_order=list(range(K))),
    'SPR': dict(input_size=INPUT, heatmap_size=HEATMAP),
    'DecoupledHeatmap': dict(input_size=INPUT, heatmap_size=HEATMAP),
    # one-stage annotation processor: tests/codecs/test_annotation_processor.py
    'YOLOXPoseAnnotationProcessor': dict(input_size=INPUT),
}

# pose-lifting codecs (2D -> 3D, extra encode inputs): values in
# tests/codecs/test_lifting_codecs.py; here build and routing
LIFTING = {
    'ImagePoseLifting': dict(num_keypoints=K, remove_root=True),
    'VideoPoseLifting': dict(num_keypoints=K, normalize_camera=True),
    'MotionBERTLabel': dict(num_keypoints=K, mode='train'),
}

# 3D hand heatmaps (extra encode inputs, 4 decode outputs): values in
# tests/codecs/test_hand_3d_heatmap.py
HAND3D = {'Hand3DHeatmap': dict(heatmap_size=(16, 16, 16))}


@pytest.mark.parametrize('name', sorted(LIFTING))
def test_lifting_codecs_route_every_key(name):
    """Each output reaches the packed sample: a mapping table, the network
    input (keypoint_labels) or PackPoseInputs' declared side information."""
    from posekit.datasets.transforms.formatting import CODEC_SIDE_INFO
    codec = KEYPOINT_CODECS.build(dict(type=name, **LIFTING[name]))
    rng = np.random.default_rng(0)
    camera = dict(w=1000, h=1000, f=np.full((2, 1), 1000.),
                  c=np.full((2, 1), 500.))
    extra = dict(lifting_target=rng.normal(0, 1, (1, K, 3)) + [0, 0, 5],
                 lifting_target_visible=np.ones((1, K)),
                 camera_param=camera, factor=None)
    extra = {k: v for k, v in extra.items() if k in codec.auxiliary_encode_keys}
    encoded = codec.encode(rng.uniform(0, 1000, (1, K, 2)), None, **extra)
    routed = {**codec.field_mapping_table, **codec.instance_mapping_table,
              **codec.label_mapping_table}
    assert set(encoded) <= set(routed) | CODEC_SIDE_INFO | {'keypoint_labels'}
    assert codec.label_mapping_table == {
        'trajectory_weights': 'trajectory_weights',
        'lifting_target_label': 'lifting_target_label',
        'lifting_target_weight': 'lifting_target_weight'}


@pytest.mark.parametrize('name', sorted(BOTTOM_UP))
def test_bottom_up_codecs_route_every_key(name):
    codec = KEYPOINT_CODECS.build(dict(type=name, **BOTTOM_UP[name]))
    rng = np.random.default_rng(0)
    keypoints = (rng.uniform(0.2, 0.8, (3, K, 2)) * INPUT).astype(np.float32)
    encoded = codec.encode(keypoints, np.ones((3, K), np.float32))
    routed = {**codec.field_mapping_table, **codec.instance_mapping_table,
              **codec.label_mapping_table}
    assert set(encoded) <= set(routed)
    lengths = {encoded[key].shape[0] for key in codec.label_mapping_table
               if key in encoded}
    assert len(lengths) <= 1     # per-instance labels share their length


def test_every_registered_codec_has_an_example():
    missing = sorted(set(KEYPOINT_CODECS.keys()) - set(EXAMPLES) -
                     set(BOTTOM_UP) - set(LIFTING) - set(HAND3D))
    assert not missing, f'add an example config to EXAMPLES for {missing}'


@pytest.mark.parametrize('name', sorted(set(KEYPOINT_CODECS.keys()) -
                                         set(BOTTOM_UP) - set(LIFTING) -
                                         set(HAND3D)))
def test_encode_decode_shapes(name):
    cfg, decode_args = EXAMPLES[name]
    codec = KEYPOINT_CODECS.build(dict(type=name, **cfg))
    assert isinstance(codec, BaseKeypointCodec)
    rng = np.random.default_rng(0)
    keypoints = (rng.uniform(0.2, 0.8, (1, K, 2)) * INPUT).astype(np.float32)
    visible = np.ones((1, K), np.float32)

    encoded = codec.encode(keypoints, visible)
    assert encoded['keypoint_weights'].shape == (1, K)
    assert np.all(encoded['keypoint_weights'] == 1)
    for key, value in encoded.items():
        assert isinstance(value, np.ndarray), key
        assert value.dtype == np.float32, key
    # nothing is dropped: every encoded key is routed to the data sample
    routed = {**codec.field_mapping_table, **codec.instance_mapping_table,
              **codec.label_mapping_table}
    assert set(encoded) <= set(routed)
    for key in codec.label_mapping_table:   # per-instance labels lead with N
        assert encoded[key].shape[0] == 1
    assert codec.support_batch_decoding is False

    keypoints_out, scores = codec.decode(*decode_args(encoded))
    assert keypoints_out.shape == (1, K, 2)
    assert scores.shape == (1, K)
    assert np.issubdtype(keypoints_out.dtype, np.floating)
    assert np.all(np.isfinite(keypoints_out))
    # within a heatmap stride (the coarsest quantisation among the codecs)
    np.testing.assert_allclose(keypoints_out, keypoints, atol=4.1)

    # None visibility means all visible
    again = codec.encode(keypoints)
    for key in encoded:
        np.testing.assert_array_equal(again[key], encoded[key])


def test_build_from_config_dict_with_scope():
    codec = KEYPOINT_CODECS.build(dict(type='mmpose.MSRAHeatmap',
                                       input_size=(192, 256),
                                       heatmap_size=(48, 64), sigma=2))
    assert type(codec).__name__ == 'MSRAHeatmap'
    np.testing.assert_array_equal(codec.scale_factor, [4., 4.])
    assert codec.unbiased is False and codec.blur_kernel_size == 11


def test_unknown_argument_names_the_type():
    with pytest.raises(TypeError, match='MSRAHeatmap'):
        KEYPOINT_CODECS.build(dict(type='MSRAHeatmap', input_size=(192, 256),
                                   heatmap_size=(48, 64), sigma=2, foo=1))


def test_batch_decoding_flag_follows_override():
    class Batched(BaseKeypointCodec):
        def encode(self, keypoints, keypoints_visible=None):
            return {}

        def decode(self, encoded):
            return encoded, encoded

        def batch_decode(self, batch_encoded):
            return [], []

    class Single(Batched):
        batch_decode = BaseKeypointCodec.batch_decode

    assert Batched().support_batch_decoding is True
    assert Single().support_batch_decoding is False
    with pytest.raises(NotImplementedError):
        Single().batch_decode(None)


def test_mapping_tables():
    build = KEYPOINT_CODECS.build
    msra = build(dict(type='MSRAHeatmap', **EXAMPLES['MSRAHeatmap'][0]))
    assert msra.field_mapping_table == {'heatmaps': 'heatmaps'}
    assert msra.label_mapping_table == {'keypoint_weights':
                                        'keypoint_weights'}
    assert msra.instance_mapping_table == {}
    assert msra.auxiliary_encode_keys == set()
    simcc = build(dict(type='SimCCLabel', input_size=INPUT))
    assert simcc.field_mapping_table == {}
    assert set(simcc.label_mapping_table) == {
        'keypoint_x_labels', 'keypoint_y_labels', 'keypoint_weights'}
    integral = build(dict(type='IntegralRegressionLabel',
                          **EXAMPLES['IntegralRegressionLabel'][0]))
    assert integral.field_mapping_table == {'heatmaps': 'heatmaps'}
    assert set(integral.label_mapping_table) == {'keypoint_labels',
                                                 'keypoint_weights'}
