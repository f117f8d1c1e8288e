"""LoadImage brings grayscale, BGRA and 16-bit files to BGR uint8, as
``as_bgr_uint8`` does for arrays; a truncated JPEG is an error naming the file."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.datasets.transforms import LoadImage
from posekit.datasets.transforms.loading import ImageLoadError, as_bgr_uint8

IMAGE = Path(__file__).resolve().parents[1] / 'data/fixtures/coco/000000000785.jpg'


def _raw_images():
    rng = np.random.default_rng(0)
    return {
        'gray.png': rng.integers(0, 256, (24, 32), dtype=np.uint8),
        'bgra.png': rng.integers(0, 256, (24, 32, 4), dtype=np.uint8),
        'deep.png': rng.integers(0, 65536, (24, 32, 3), dtype=np.uint16),
        'deep_gray.png': rng.integers(0, 65536, (24, 32), dtype=np.uint16),
        'deep_bgra.png': rng.integers(0, 65536, (24, 32, 4), dtype=np.uint16),
    }


@pytest.mark.parametrize('name', sorted(_raw_images()))
def test_files_decode_like_the_array_conversion(name, tmp_path):
    raw = _raw_images()[name]
    cv2.imwrite(str(tmp_path / name), raw)
    img = LoadImage()(dict(img_path=str(tmp_path / name)))['img']
    assert img.shape == (24, 32, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, as_bgr_uint8(raw))


def test_as_bgr_uint8_values():
    gray = np.array([[0, 7], [200, 255]], np.uint8)
    np.testing.assert_array_equal(as_bgr_uint8(gray), np.repeat(gray[..., None], 3, axis=2))
    np.testing.assert_array_equal(as_bgr_uint8(gray[..., None]), as_bgr_uint8(gray))
    bgra = np.arange(2 * 2 * 4, dtype=np.uint8).reshape(2, 2, 4)
    np.testing.assert_array_equal(as_bgr_uint8(bgra), bgra[..., :3])  # alpha dropped
    deep = np.array([[0, 255, 256, 65535]], np.uint16)
    np.testing.assert_array_equal(as_bgr_uint8(deep)[..., 0], [[0, 0, 1, 255]])  # v >> 8
    bgr = np.zeros((2, 2, 3), np.uint8)
    assert as_bgr_uint8(bgr) is bgr
    with pytest.raises(ValueError, match=r'got \(2, 2, 2\) uint8'):
        as_bgr_uint8(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r'got \(2, 2, 3\) float64'):
        as_bgr_uint8(np.zeros((2, 2, 3)))


def test_truncated_jpeg_is_an_error_naming_the_file(tmp_path):
    data = IMAGE.read_bytes()
    path = tmp_path / 'cut.jpg'
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ImageLoadError, match=f'cannot decode image file {path}'):
        LoadImage()(dict(img_path=str(path)))
    assert LoadImage(ignore_empty=True)(dict(img_path=str(path))) is None
