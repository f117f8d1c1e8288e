"""Writing files atomically: every file posekit writes goes through here.

A file is written under a temporary name in its own folder, flushed, then
renamed over the target (``os.replace`` is atomic on one file system). A
crash, a full disk or an exception while writing never leaves a truncated
file under the real name; the previous file, if any, stays intact. The
folder is created when missing.

Not atomic, by nature: append-only logs (the text log, ``scalars.json``),
which grow a line at a time. Streamed files (videos) are written under
:func:`temporary_name` and renamed when closed. :func:`file_sha256` hashes
a file (checkpoint names, the ONNX export cache).

This module imports nothing from posekit (it is the bottom layer), and
neither torch nor OpenCV at import time.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import IO, Any, Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = 'w', *,
                 fsync: bool = False) -> Iterator[IO]:
    """Open a temporary file to write ``path``; rename it over ``path`` on
    success, remove it on failure.

    Args:
        path (str | Path): The file to write.
        mode (str): ``'w'`` (text, UTF-8) or ``'wb'`` (bytes).
        fsync (bool): Also force the data and the rename to the disk
            (checkpoints: a power cut must not lose the last good one).

    Yields:
        IO: The open temporary file.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    tmp = temporary_name(path)
    folder = os.path.dirname(tmp)
    try:
        with open(tmp, mode, **({} if 'b' in mode else dict(encoding='utf-8'))) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    if fsync:
        _fsync_dir(folder)


def temporary_name(path: str | os.PathLike) -> str:
    """A hidden name beside ``path`` to write it under, then rename; it ends
    with ``path``'s extension (encoders such as OpenCV's video writer pick
    the format by it). The folder is created.

    Hidden and per process: two processes writing one file do not mix.
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f'.{stem}.tmp-{os.getpid()}{ext}')


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, 'w') as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, 'wb') as f:
        f.write(data)


def write_json(path: str | os.PathLike, obj: Any, **kwargs: Any) -> None:
    """``json.dump(obj, f, **kwargs)`` to ``path`` atomically."""
    with atomic_write(path, 'w') as f:
        json.dump(obj, f, **kwargs)


def write_image(path: str | os.PathLike, image: Any,
                params: list[int] | None = None) -> None:
    """Write a BGR(A) or grey ``image`` (as ``cv2.imwrite`` takes it)
    atomically; the format is the file's extension.

    Raises:
        OSError: OpenCV cannot encode the image in that format (unknown
            extension, unsupported array).
    """
    import cv2  # here, so that importing posekit.fileio stays light
    path = os.fspath(path)
    ext = os.path.splitext(path)[1]
    try:
        ok, encoded = cv2.imencode(ext, image, params or [])
    except cv2.error as e:
        raise OSError(f'could not write {path}: {e}') from e
    if not ok:
        raise OSError(f'could not write {path} (unknown image extension?)')
    write_bytes(path, encoded.tobytes())


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable (where the OS allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
