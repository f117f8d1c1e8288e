"""LoadImage: decoding, BGR order, arrays passed in, and load errors."""
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.datasets.transforms import LoadImage
from posekit.datasets.transforms.loading import ImageLoadError
from posekit.registry import TRANSFORMS

FIXTURES = Path(__file__).resolve().parents[1] / 'data' / 'fixtures' / 'coco'
IMAGE = FIXTURES / '000000000785.jpg'


def _png_rgb(pixels: np.ndarray) -> bytes:
    """A minimal 8-bit RGB PNG written by hand (independent of OpenCV)."""
    h, w, _ = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack('>I', len(data)) + body + struct.pack(
            '>I', zlib.crc32(body) & 0xffffffff)

    rows = b''.join(b'\x00' + pixels[y].tobytes() for y in range(h))
    header = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
            chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))


def test_loads_fixture_as_bgr_uint8():
    results = LoadImage()(dict(img_path=str(IMAGE)))
    img = results['img']
    assert img.shape == (425, 640, 3) and img.dtype == np.uint8
    assert results['img_shape'] == (425, 640)
    assert results['ori_shape'] == (425, 640)
    np.testing.assert_array_equal(img, cv2.imread(str(IMAGE)))


def test_channel_order_is_bgr(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)      # red
    rgb[1, 2] = (0, 0, 255)      # blue
    path = tmp_path / 'rgb.png'
    path.write_bytes(_png_rgb(rgb))
    img = LoadImage()(dict(img_path=str(path)))['img']
    assert img[0, 0].tolist() == [0, 0, 255]    # red is B=0, G=0, R=255
    assert img[1, 2].tolist() == [255, 0, 0]


def test_to_float32_and_grayscale():
    img = LoadImage(to_float32=True)(dict(img_path=str(IMAGE)))['img']
    assert img.dtype == np.float32 and img.max() <= 255
    gray = LoadImage(color_type='grayscale')(dict(img_path=str(IMAGE)))
    assert gray['img'].shape == (425, 640) and gray['img_shape'] == (425, 640)


def test_uses_array_already_in_results():
    img = np.full((4, 5, 3), 7, np.uint8)
    results = LoadImage()(dict(img=img))
    assert results['img'] is img
    assert results['img_path'] is None
    assert results['img_shape'] == (4, 5) == results['ori_shape']
    as_float = LoadImage(to_float32=True)(dict(img=img, img_path='a.jpg'))
    assert as_float['img'].dtype == np.float32 and as_float['img_path'] == 'a.jpg'


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / 'nope' / 'missing.jpg'
    with pytest.raises(FileNotFoundError, match='missing.jpg') as info:
        LoadImage()(dict(img_path=str(missing)))
    assert str(missing) in str(info.value)
    assert isinstance(info.value, ImageLoadError)


def test_corrupt_file_names_the_path(tmp_path):
    bad = tmp_path / 'corrupt.jpg'
    bad.write_bytes(b'this is not a jpeg')
    with pytest.raises(ImageLoadError, match='corrupt.jpg'):
        LoadImage()(dict(img_path=str(bad)))
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(ImageLoadError, match='empty.jpg'):
        LoadImage()(dict(img_path=str(empty)))


def test_ignore_empty_returns_none(tmp_path):
    bad = tmp_path / 'corrupt.jpg'
    bad.write_bytes(b'garbage')
    load = LoadImage(ignore_empty=True)
    assert load(dict(img_path=str(tmp_path / 'missing.jpg'))) is None
    assert load(dict(img_path=str(bad))) is None
    assert load(dict(img_path=str(IMAGE)))['img'].shape == (425, 640, 3)


def test_backends():
    load = TRANSFORMS.build(dict(type='LoadImage',
                                 backend_args=dict(backend='local')))
    assert load(dict(img_path=str(IMAGE)))['img'].shape == (425, 640, 3)
    # MMCV's name for local files, as MMPose's MPII regression configs write it
    disk = LoadImage(file_client_args=dict(backend='disk'))
    np.testing.assert_array_equal(disk(dict(img_path=str(IMAGE)))['img'],
                                  load(dict(img_path=str(IMAGE)))['img'])
    with pytest.raises(ValueError, match='local'):
        LoadImage(backend_args=dict(backend='petrel'))
    with pytest.raises(ValueError, match='cv2'):
        LoadImage(imdecode_backend='pillow')
    with pytest.raises(ValueError, match='color_type'):
        LoadImage(color_type='sepia')
    with pytest.raises(ImageLoadError, match='local files'):
        LoadImage()(dict(img_path='s3://bucket/a.jpg'))


def test_decoded_cache_stores_the_decoders_pixels_and_reads_them_back(tmp_path):
    """First read: decoded and stored, bit for bit; later reads load the
    stored file (a planted array proves the hit); an edited image, another
    flag or a damaged cache file are decoded again."""
    image = tmp_path / 'person.jpg'
    image.write_bytes(IMAGE.read_bytes())
    cache = tmp_path / 'cache'
    load = TRANSFORMS.build(dict(type='LoadImage', decoded_cache=str(cache)))
    first = load(dict(img_path=str(image)))['img']
    np.testing.assert_array_equal(first, cv2.imread(str(IMAGE)))
    [stored] = cache.glob('*/*.npy')
    np.testing.assert_array_equal(np.load(stored), first)

    planted = np.full_like(first, 7)
    np.save(stored, planted)
    np.testing.assert_array_equal(load(dict(img_path=str(image)))['img'], planted)
    # the other people of the image, as a frame list: the same file
    frames = load(dict(img_path=[str(image), str(image)]))['img']
    assert all(np.array_equal(f, planted) for f in frames)

    gray = LoadImage(color_type='grayscale', decoded_cache=cache)(dict(img_path=str(image)))
    np.testing.assert_array_equal(gray['img'], cv2.imread(str(IMAGE), cv2.IMREAD_GRAYSCALE))
    assert len(list(cache.glob('*/*.npy'))) == 2

    stored.write_bytes(b'not an array')   # damaged: decoded again, replaced
    np.testing.assert_array_equal(load(dict(img_path=str(image)))['img'], first)
    np.testing.assert_array_equal(np.load(stored), first)

    flipped = cv2.flip(first, 1)          # the image edited: a new entry
    cv2.imwrite(str(image), flipped, [cv2.IMWRITE_JPEG_QUALITY, 95])
    edited = load(dict(img_path=str(image)))['img']
    np.testing.assert_array_equal(edited, cv2.imread(str(image)))
    assert len(list(cache.glob('*/*.npy'))) == 3


def test_decoded_cache_errors_and_unwritable_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        LoadImage(decoded_cache=tmp_path)(dict(img_path=str(tmp_path / 'missing.jpg')))
    with pytest.raises(ImageLoadError, match='local files only'):
        LoadImage(decoded_cache=tmp_path)(dict(img_path='s3://bucket/a.jpg'))
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(ValueError, match='decoded_cache=.*file/cache'):
        LoadImage(decoded_cache=blocker / 'cache')
    load = LoadImage(decoded_cache=tmp_path / 'cache')
    (tmp_path / 'cache').rmdir()
    (tmp_path / 'cache').write_text('')   # the folder replaced by a file: cannot write
    with pytest.warns(UserWarning, match='cannot write'):
        img = load(dict(img_path=str(IMAGE)))['img']
    np.testing.assert_array_equal(img, cv2.imread(str(IMAGE)))
    with warnings.catch_warnings():
        warnings.simplefilter('error')     # one warning, not one per image
        load(dict(img_path=str(IMAGE)))
