"""Guard: every transform posekit registers has at least one test that
asserts its output values (as the backbones', heads' and codecs' tables do).

``VALUE_TESTS`` names, per transform, tests that check values by hand. A
new transform fails ``test_every_registered_transform_has_a_value_test``
until a test is written and listed here; the second test checks that each
listed test exists, is collected by pytest, names the transform and
contains a value assertion (not only "it ran", a type or a shape).
"""
import ast
from pathlib import Path

import pytest

from posekit.registry import TRANSFORMS

TESTS = Path(__file__).resolve().parents[1]

# transform -> tests (path under tests/ :: function) asserting its values
VALUE_TESTS = {
    'Albumentation': [
        'transforms/test_transform_values.py::'
        'test_albumentation_writes_the_library_outputs_back',
        'transforms/test_albumentation.py::'
        'test_rtmpose_coarse_dropout_one_hole_of_the_configured_size'],
    'BottomupGetHeatmapMask': [
        'transforms/test_bottomup_transforms.py::'
        'test_bottomup_get_heatmap_mask_of_a_crowd_polygon',
        'transforms/test_bottomup_transforms.py::'
        'test_bottomup_get_heatmap_mask_decodes_crowd_rle'],
    'BottomupRandomAffine': [
        'transforms/test_bottomup_transforms.py::'
        'test_bottomup_random_affine_fixed_draws_map_points_by_hand',
        'transforms/test_bottomup_transforms.py::'
        'test_bottomup_random_affine_boxes_area_and_clip'],
    'BottomupResize': [
        'transforms/test_bottomup_transforms.py::'
        'test_bottomup_resize_fit_and_expand_sizes',
        'transforms/test_bottomup_transforms.py::'
        'test_bottomup_resize_content_udp_and_aug_scales'],
    'Compose': [
        'transforms/test_transform_values.py::'
        'test_compose_applies_config_dicts_in_order',
        'transforms/test_transform_values.py::'
        'test_compose_stops_at_none_and_empty_is_identity'],
    'FilterAnnotations': [
        'transforms/test_common_transforms.py::test_filter_annotations'],
    'GenerateTarget': [
        'transforms/test_generate_target.py::test_single_codec_heatmaps',
        'transforms/test_generate_target.py::test_combined_codecs'],
    'GetBBoxCenterScale': [
        'transforms/test_common_transforms.py::test_get_bbox_center_scale'],
    'KeypointConverter': [
        'datasets/test_keypoint_converter.py::'
        'test_one_to_one_mapping_copies_and_marks_weights'],
    'LoadImage': [
        'transforms/test_loading.py::test_channel_order_is_bgr'],
    'Mosaic': [
        'transforms/test_mix_img_transforms.py::'
        'test_mosaic_places_points_by_the_formula',
        'transforms/test_mix_img_transforms.py::'
        'test_mosaic_draw_order_follows_mmpose'],
    'HandRandomFlip': [
        'transforms/test_hand_transforms.py::'
        'test_hand_random_flip_swaps_hands_by_hand'],
    'PackPoseInputs': [
        'transforms/test_formatting.py::test_inputs_tensor',
        'transforms/test_formatting.py::test_data_sample_contents'],
    'PhotometricDistortion': [
        'transforms/test_color_transforms.py::test_photometric_apply_steps',
        'transforms/test_transform_values.py::'
        'test_photometric_call_with_fixed_ranges'],
    'RandomBBoxTransform': [
        'transforms/test_common_transforms.py::'
        'test_random_bbox_transform_apply_is_deterministic',
        'transforms/test_transform_values.py::'
        'test_random_bbox_transform_call_values'],
    'RandomFlip': [
        'transforms/test_common_transforms.py::test_horizontal_flip'],
    'RandomFlipAroundRoot': [
        'transforms/test_pose3d_transforms.py::'
        'test_random_flip_around_root_by_hand',
        'transforms/test_pose3d_transforms.py::'
        'test_random_flip_around_root_matches_mmpose'],
    'RandomHalfBody': [
        'transforms/test_common_transforms.py::test_half_body_upper_and_lower'],
    'TopdownAffine': [
        'transforms/test_topdown_affine.py::'
        'test_centre_maps_to_input_centre_and_shape'],
    'YOLOXMixUp': [
        'transforms/test_mix_img_transforms.py::'
        'test_yolox_mixup_weights_and_geometry'],
    'YOLOXHSVRandomAug': [
        'transforms/test_color_transforms.py::'
        'test_yolox_hsv_matches_direct_arithmetic',
        'transforms/test_transform_values.py::'
        'test_yolox_hsv_zero_deltas_keep_hsv'],
}

# calls that compare values (not types or shapes)
VALUE_CALLS = {'assert_array_equal', 'assert_allclose', 'assert_equal',
               'assert_close', 'assert_array_almost_equal', 'approx'}
NOT_VALUES = {'shape', 'dtype', 'ndim', '__name__', 'flags'}


def registered_transforms():
    """posekit's own transforms (a test may register helpers of its own)."""
    return sorted(name for name in TRANSFORMS.keys()
                  if TRANSFORMS.get(name).__module__.startswith('posekit.'))


def test_every_registered_transform_has_a_value_test():
    missing = sorted(set(registered_transforms()) - set(VALUE_TESTS))
    assert not missing, (f'transforms without a value test: {missing}; write '
                         'one and list it in VALUE_TESTS')
    stale = sorted(set(VALUE_TESTS) - set(registered_transforms()))
    assert not stale, f'VALUE_TESTS names unregistered transforms: {stale}'


def _name_of(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ''


def _compares_values(node: ast.AST) -> bool:
    """An ``assert a == b`` where neither side is a shape/dtype/type."""
    if not (isinstance(node, ast.Compare)
            and any(isinstance(op, ast.Eq) for op in node.ops)):
        return False
    for side in [node.left, *node.comparators]:
        if isinstance(side, ast.Attribute) and side.attr in NOT_VALUES:
            return False
        if isinstance(side, ast.Call) and _name_of(side.func) in (
                'type', 'len', 'isinstance', 'tuple') and not any(
                    isinstance(a, ast.Subscript) for a in side.args):
            return False
    return True


def asserts_values(function: ast.FunctionDef) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and _name_of(node.func) in VALUE_CALLS:
            return True
        if isinstance(node, ast.Assert) and any(
                _compares_values(n) for n in ast.walk(node.test)):
            return True
    return False


@pytest.mark.parametrize('name', sorted(VALUE_TESTS))
def test_listed_tests_exist_and_assert_values(name):
    for ref in VALUE_TESTS[name]:
        path, func_name = ref.split('::')
        assert Path(path).name.startswith('test_'), ref
        source = (TESTS / path).read_text()
        tree = ast.parse(source)
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)
                     and n.name == func_name]
        assert functions, f'{ref}: no such test function'
        function = functions[0]
        assert func_name.startswith('test_'), f'{ref}: not collected'
        text = ast.get_source_segment(source, function)
        assert name in text, f'{ref} does not name {name}'
        assert asserts_values(function), f'{ref} asserts no values'


def test_the_value_check_rejects_shape_only_tests():
    """The checker itself: shape, type and "it ran" asserts do not count."""
    weak = ast.parse('def test_x():\n    out = f()\n'
                     '    assert out.shape == (1, 2)\n'
                     '    assert type(out) == dict\n'
                     '    assert out is not None\n').body[0]
    strong = ast.parse('def test_y():\n    assert f().tolist() == [1]\n').body[0]
    approx = ast.parse('def test_z():\n'
                       '    assert f() == pytest.approx(2.5)\n').body[0]
    assert not asserts_values(weak)
    assert asserts_values(strong) and asserts_values(approx)
