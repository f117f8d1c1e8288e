"""``LoadImage``: decode the sample's image file with OpenCV.

Images are decoded by ``cv2.imdecode``, so colour images come out in **BGR**
channel order, ``(H, W, 3) uint8`` (MMPose's convention; the model's data
preprocessor converts to RGB when its config says ``bgr_to_rgb=True``).
With ``color_type='color'`` grayscale, BGRA and 16-bit files are converted
(:func:`as_bgr_uint8` does the same for arrays); a file that does not decode
whole (a truncated JPEG) raises :class:`ImageLoadError`.
Only local files are read: posekit has no remote storage backends.

Decoded-image cache (``decoded_cache=DIR``, a posekit option). Decoding a
COCO JPEG takes 1-3 ms on one core, most of a top-down training sample's
time; reading the same pixels back from an uncompressed ``.npy`` file takes
about a twentieth of that. With ``decoded_cache`` the first read of an image
decodes it and stores the pixels in ``DIR``; every later read (the next
epochs, the other people of the image) loads them. The pixels are the
decoder's, bit for bit, so training is unchanged. A file is named by a hash
of the image's absolute path, size, modification time and the decode flag:
an edited image is decoded again, nothing stale is read. The price is disk
space, about 3 bytes a pixel (0.9 MB for a 640x480 image, ~50 GB for COCO
train2017's person images); the folder can be deleted at any time.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from typing import Mapping

import cv2
import numpy as np

from posekit.fileio import atomic_write
from posekit.registry import TRANSFORMS

# MMCV's names for the cv2.imdecode flags, as configs spell them.
_DECODE_FLAGS = {
    'color': cv2.IMREAD_COLOR,
    'grayscale': cv2.IMREAD_GRAYSCALE,
    'unchanged': cv2.IMREAD_UNCHANGED,
    'color_ignore_orientation': cv2.IMREAD_IGNORE_ORIENTATION | cv2.IMREAD_COLOR,
    'grayscale_ignore_orientation':
    cv2.IMREAD_IGNORE_ORIENTATION | cv2.IMREAD_GRAYSCALE,
}


class ImageLoadError(OSError):
    """An image file that is missing, unreadable or not a decodable image."""


class _MissingImage(ImageLoadError, FileNotFoundError):
    """A missing image: catchable as ImageLoadError or FileNotFoundError."""


@TRANSFORMS.register_module()
class LoadImage:
    """Load the image of a sample, from its file or from ``results['img']``.

    When ``results`` already holds an ``img`` array (inference on an array,
    or a dataset that keeps images in memory) it is used as is; otherwise the
    file ``results['img_path']`` is read and decoded.

    Required Keys:
        - img_path (str | list[str]): path of a local image file; not needed
          when ``img`` is given. A list (video frames) loads each file.
        - img (np.ndarray, optional): an already loaded ``(H, W[, C])`` image.

    Modified Keys:
        - img (np.ndarray): ``(H, W, 3) uint8`` BGR for ``color_type='color'``
          (``(H, W)`` for grayscale); ``float32`` when ``to_float32``. A
          list of such arrays, in path order, for a list ``img_path``.
        - img_shape (tuple[int, int]): ``(h, w)`` of ``img`` (of the first
          frame for a list).
        - ori_shape (tuple[int, int]): ``(h, w)`` of ``img`` (the image before
          any transform).
        - img_path: set to ``None`` when ``img`` was given without a path.

    Args:
        to_float32 (bool): Convert the image to ``float32`` (values stay in
            0..255). Defaults to False (``uint8``).
        color_type (str | int): ``'color'``, ``'grayscale'``, ``'unchanged'``,
            ``'color_ignore_orientation'``, ``'grayscale_ignore_orientation'``
            or a raw ``cv2.IMREAD_*`` flag. Defaults to ``'color'``.
        imdecode_backend (str): Only ``'cv2'`` is available.
        file_client_args (dict, optional): Deprecated MMCV spelling of
            ``backend_args``; same rules.
        ignore_empty (bool): Return ``None`` instead of raising when the file
            is missing or cannot be decoded, so that a training dataset picks
            another sample. Defaults to False.
        backend_args (dict, optional): ``None`` or ``dict(backend='local')``;
            any other storage backend raises ``ValueError``.
        decoded_cache (str | Path, optional): A folder that keeps decoded
            images (see the module docstring; not an MMPose option). It is
            created if missing; if a file cannot be written there (disk
            full), one warning is given and images are decoded as usual.

    Raises:
        ImageLoadError: (an ``OSError``; ``FileNotFoundError`` for a missing
            file) naming the path, unless ``ignore_empty``.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str | int = 'color',
                 imdecode_backend: str = 'cv2',
                 file_client_args: Mapping | None = None,
                 ignore_empty: bool = False,
                 *,
                 backend_args: Mapping | None = None,
                 decoded_cache: str | os.PathLike | None = None) -> None:
        if isinstance(color_type, str):
            if color_type not in _DECODE_FLAGS:
                raise ValueError(
                    f'LoadImage: unknown color_type {color_type!r}; expected '
                    f'one of {", ".join(map(repr, _DECODE_FLAGS))}')
            self._flag = _DECODE_FLAGS[color_type]
        elif isinstance(color_type, int):
            self._flag = color_type
        else:
            raise TypeError('LoadImage: color_type must be a str or a '
                            f'cv2.IMREAD_* int, got {color_type!r}')
        if imdecode_backend != 'cv2':
            raise ValueError(
                f'LoadImage: imdecode_backend={imdecode_backend!r} is not '
                "available in posekit; use 'cv2' (the default)")
        if file_client_args is not None and backend_args is not None:
            raise ValueError('LoadImage: give backend_args or the deprecated '
                             'file_client_args, not both')
        for name, args in (('backend_args', backend_args),
                           ('file_client_args', file_client_args)):
            _check_local_backend(name, args)
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.ignore_empty = ignore_empty
        self.backend_args = None if backend_args is None else dict(backend_args)
        self.file_client_args = (None if file_client_args is None else
                                 dict(file_client_args))
        self.decoded_cache = None
        if decoded_cache is not None:
            self.decoded_cache = os.fspath(decoded_cache)
            try:
                os.makedirs(self.decoded_cache, exist_ok=True)
            except OSError as e:
                raise ValueError(f'LoadImage: decoded_cache={self.decoded_cache!r} '
                                 f'is not a folder posekit can create: {e}') from e
        self._cache_warned = False

    def __call__(self, results: dict) -> dict | None:
        if 'img' in results:
            img = results['img']
            if not isinstance(img, np.ndarray):
                raise TypeError('LoadImage: results["img"] must be an '
                                f'np.ndarray, got {type(img).__name__}')
            results.setdefault('img_path', None)
        else:
            if 'img_path' not in results:
                raise KeyError('LoadImage: the results have neither "img" '
                               'nor "img_path"')
            try:
                img = self._read(results['img_path'])
            except ImageLoadError:
                if self.ignore_empty:
                    return None
                raise
        if self.to_float32:
            img = [i.astype(np.float32) for i in img] if isinstance(img, list) \
                else img.astype(np.float32)
        results['img'] = img
        shape = (img[0] if isinstance(img, list) else img).shape[:2]
        results['img_shape'] = shape
        results['ori_shape'] = shape
        return results

    def _read(self, path: str | list | tuple) -> np.ndarray | list[np.ndarray]:
        """One image, or a list of video frames (``PoseTrack18VideoDataset``:
        centre frame first) that must all have the centre frame's shape."""
        if not isinstance(path, (list, tuple)):
            return self._read_one(path)
        if not path:
            raise ValueError('LoadImage: img_path is an empty list of frames')
        frames = [self._read_one(p) for p in path]
        for p, frame in zip(path, frames):
            if frame.shape != frames[0].shape:
                raise ValueError(f'LoadImage: frame {p} has shape {frame.shape}, '
                                 f'but the first frame {path[0]} has {frames[0].shape}')
        return frames

    def _read_one(self, path: str) -> np.ndarray:
        if self.decoded_cache is None or '://' in str(path):   # a URI: read_image's error
            return read_image(path, self._flag)
        cached = cache_file(self.decoded_cache, path, self._flag)
        try:
            return np.load(cached)
        except (OSError, ValueError, EOFError):
            pass  # not cached yet, or a damaged file: decoded (again) and stored
        img = read_image(path, self._flag)
        try:
            os.makedirs(os.path.dirname(cached), exist_ok=True)
            with atomic_write(cached, 'wb') as f:
                np.save(f, img)
        except OSError as e:
            if not self._cache_warned:
                warnings.warn(f'LoadImage: cannot write {cached} ({e}); images are '
                              'decoded without the cache', stacklevel=2)
                self._cache_warned = True
        return img

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(to_float32={self.to_float32}, '
                f'color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r}, '
                f'ignore_empty={self.ignore_empty}, '
                f'backend_args={self.backend_args}, '
                f'decoded_cache={self.decoded_cache!r})')


def cache_file(folder: str, path: str, flag: int) -> str:
    """Where ``LoadImage(decoded_cache=folder)`` keeps ``path`` decoded with
    ``flag``: named by a hash of the absolute path, size, modification time
    and flag. Raises :class:`ImageLoadError` when ``path`` is missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise _MissingImage(f'image file not found: {path}') from e
    except OSError as e:
        raise ImageLoadError(f'cannot read image file {path}: {e}') from e
    key = hashlib.sha1(f'{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{flag}'
                       .encode()).hexdigest()
    return os.path.join(folder, key[:2], key + '.npy')


def read_image(path: str, flag: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Read and decode one local image file.

    The bytes are read with Python and decoded with ``cv2.imdecode`` (rather
    than ``cv2.imread``) so that any path Python can open works, whatever
    its characters.

    Args:
        path (str | os.PathLike): The image file.
        flag (int): A ``cv2.IMREAD_*`` flag. Defaults to colour (BGR).

    Returns:
        np.ndarray: The decoded image, ``(H, W, 3) uint8`` BGR for colour.

    Raises:
        ImageLoadError: The file is missing (as ``FileNotFoundError``'s
            errno), unreadable, empty or not a decodable image.
    """
    if isinstance(path, str) and '://' in path:
        raise ImageLoadError(f'cannot load image {path!r}: posekit reads '
                             'local files only, not URIs')
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except FileNotFoundError as e:
        raise _MissingImage(f'image file not found: {path}') from e
    except OSError as e:
        raise ImageLoadError(f'cannot read image file {path}: {e}') from e
    img = None
    if data:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if img is None:
        raise ImageLoadError(f'cannot decode image file {path}: it is empty '
                             'or not an image format OpenCV can read')
    return img


def _check_local_backend(name: str, args: Mapping | None) -> None:
    if args is None:
        return
    if not isinstance(args, Mapping):
        raise TypeError(f'LoadImage: {name} must be a dict or None, got '
                        f'{args!r}')
    backend = args.get('backend', 'local')
    # 'disk' is MMCV's FileClient name for the same local files (MMPose 1.x
    # configs still write file_client_args=dict(backend='disk'))
    if backend not in ('local', 'disk'):
        raise ValueError(
            f'LoadImage: {name}={dict(args)!r} asks for the {backend!r} '
            "storage backend; posekit reads local files only (backend='local' "
            "or 'disk', or no backend_args). Copy the data to a local disk or "
            'a mounted file system.')


def as_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """An image array as ``(H, W, 3) uint8`` BGR, converted the way
    ``cv2.imdecode`` converts such a file for ``color_type='color'``.

    - ``(H, W)`` or ``(H, W, 1)`` grayscale: the value in all three channels;
    - ``(H, W, 4)`` BGRA: the alpha channel is dropped (not blended);
    - ``uint16``: the high byte (``v >> 8``), as OpenCV's PNG decoder does
      (an 8-bit image scaled by 257 comes back exactly).

    Already ``(H, W, 3) uint8`` arrays are returned as they are (no copy).

    Raises:
        ValueError: another shape or dtype (e.g. float: its range is unknown).
    """
    if not isinstance(image, np.ndarray) or image.dtype not in (np.uint8, np.uint16) \
            or not (image.ndim == 2 or image.ndim == 3 and image.shape[2] in (1, 3, 4)):
        shape = getattr(image, 'shape', None)
        dtype = getattr(image, 'dtype', type(image).__name__)
        raise ValueError('an image array must be (H, W), (H, W, 1), (H, W, 3) BGR or '
                         f'(H, W, 4) BGRA, uint8 or uint16; got {shape} {dtype}')
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[..., :3])
    return image
