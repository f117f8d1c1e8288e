"""Remote checkpoints: MMPose's scheme names, downloads, PyTorch's hub cache.

A checkpoint may be named by a URL (``https://download.openmmlab.com/...``)
or by one of MMEngine's scheme names, which :func:`resolve` maps to a URL
with the table shipped in ``posekit/hub_urls.json``:

- ``torchvision://NAME`` (and the older ``modelzoo://NAME``): torchvision
  0.12's ``model_urls`` (e.g. ``resnet50``);
- ``open-mmlab://NAME`` / ``openmmlab://NAME``: OpenMMLab's pretrained
  backbones (e.g. ``msra/hrnetv2_w18``); a few old names are renamed first;
- ``mmcls://NAME``: MMClassification's ImageNet backbones. MMEngine keeps
  only their ``backbone.*`` weights, with that prefix removed
  (:func:`posekit.models.utils.read_checkpoint` does the same).

Downloads go to :func:`cache_dir`, the folder PyTorch hub, MMEngine and
MMPose download into, so files fetched by them are reused and vice versa.
Nothing downloads at import time; ``POSEKIT_OFFLINE=1`` never opens a
connection (a cached file is used, a missing one is an error saying where to
put it).

Only the standard library and :mod:`posekit.fileio` (the atomic write) are
used, no torch: this module sits just above the bottom layers.
"""
from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import http.client
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

from posekit.errors import PosekitError
from posekit.fileio import atomic_write

# scheme prefix -> the table of hub_urls.json that names its files
SCHEMES = {'torchvision://': 'torchvision', 'modelzoo://': 'torchvision',
           'open-mmlab://': 'open-mmlab', 'openmmlab://': 'open-mmlab',
           'mmcls://': 'mmcls'}
_URL_PREFIXES = ('http://', 'https://')
# "name-1234abcd.pth": the sha256 prefix torch.hub checks (8+ hex digits)
_HASH_SUFFIX = re.compile(r'-([0-9a-f]{8,})$')
_ANY_SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')
_CHUNK = 1 << 16


class DownloadError(PosekitError, OSError):
    """A file could not be downloaded (the message names the URL and the
    cache path); nothing was left in the cache."""


class UnknownModelName(PosekitError, ValueError):
    """A scheme name (``torchvision://...``) that posekit's table lacks."""


def cache_dir() -> str:
    """Where downloads go: ``$TORCH_HOME/hub/checkpoints``, ``TORCH_HOME``
    defaulting to ``$XDG_CACHE_HOME/torch`` and that to ``~/.cache/torch``
    (PyTorch hub's rule, which MMEngine follows)."""
    cache_home = os.environ.get('XDG_CACHE_HOME') or os.path.join('~', '.cache')
    torch_home = os.environ.get('TORCH_HOME') or os.path.join(cache_home, 'torch')
    return os.path.join(os.path.expanduser(torch_home), 'hub', 'checkpoints')


def is_remote(name: str) -> bool:
    """Whether ``name`` is a URL or a scheme name rather than a local path."""
    return bool(_ANY_SCHEME.match(os.fspath(name)))


def local_checkpoint(path_or_url: str, **download_kwargs) -> str:
    """The local file of a checkpoint: a path as given, or a URL or scheme
    name downloaded (or found in the cache).

    Args:
        path_or_url (str): A local path, a URL or a scheme name.
        **download_kwargs: Passed to :func:`download`.

    Raises:
        FileNotFoundError: A local path that is no file.
        UnknownModelName, DownloadError: see :func:`resolve`, :func:`download`.
    """
    text = os.fspath(path_or_url)
    if is_remote(text):
        return download(resolve(text), **download_kwargs)
    if not os.path.isfile(text):
        raise FileNotFoundError(f'checkpoint not found: {text}')
    return text


# ------------------------------------------------------------- scheme names
@functools.lru_cache(maxsize=1)
def _tables() -> dict:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'hub_urls.json')
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def resolve(name: str) -> str:
    """The URL a URL or an MMEngine scheme name stands for.

    Args:
        name (str): ``http(s)://...`` (returned as is), ``torchvision://NAME``,
            ``modelzoo://NAME``, ``open-mmlab://NAME``, ``openmmlab://NAME``
            or ``mmcls://NAME``.

    Raises:
        UnknownModelName: A scheme posekit does not know (``s3://``,
            ``pavi://``...), or a name its table lacks (close ones suggested).
    """
    name = os.fspath(name)
    if name.startswith(_URL_PREFIXES):
        return name
    prefix = next((p for p in SCHEMES if name.startswith(p)), None)
    if prefix is None:
        raise UnknownModelName(
            f'{name!r}: posekit reads local files, http(s):// URLs and the '
            f'scheme names {", ".join(SCHEMES)}; download the file yourself and '
            f'pass its local path')
    table = _tables()[SCHEMES[prefix]]
    key = name[len(prefix):]
    if SCHEMES[prefix] == 'open-mmlab' and key in _tables()['deprecated']:
        new = _tables()['deprecated'][key]
        warnings.warn(f'{name} is deprecated in favor of {prefix}{new}', stacklevel=2)
        key = new
    if key not in table:
        close = difflib.get_close_matches(key, list(table), n=5, cutoff=0.6)
        hint = (f'; close names: {", ".join(prefix + c for c in close)}' if close
                else f'; it knows {len(table)} {prefix} names, e.g. '
                     f'{", ".join(prefix + k for k in list(table)[:3])}')
        raise UnknownModelName(f'unknown model name {prefix}{key}{hint}')
    if not table[key]:  # torchvision published no weights for a few models
        raise UnknownModelName(f'{prefix}{key} has no pretrained weights')
    return table[key]


# ---------------------------------------------------------------- downloads
def download(url: str, *, dest_dir: str | None = None, check_hash: bool = True,
             progress: bool = True, timeout: float = 30.0) -> str:
    """Download ``url`` into the cache, unless it is there already.

    The file keeps the URL's file name. It is written under a temporary name
    in the same folder and renamed when complete and checked, so the cache
    never holds a partial file. Processes of one machine fetching one file
    (the ranks of a distributed run) take turns on a lock file beside it
    (POSIX ``flock``): the first downloads, the others then find the file.

    Args:
        url (str): An ``http(s)://`` URL.
        dest_dir (str, optional): Folder to save in; default :func:`cache_dir`.
        check_hash (bool): If the file name ends with ``-<hex>`` (8+ hex
            digits before the extension, e.g. ``resnet50-0676ba61.pth``),
            check that the SHA-256 of the data starts with it (torch.hub's
            convention, which OpenMMLab's files follow).
        progress (bool): Report progress on stderr: a bar on a terminal,
            one line otherwise.
        timeout (float): Seconds to wait for the server (per read), not
            for the whole transfer.

    Returns:
        str: The local path.

    Raises:
        DownloadError: HTTP error, no answer, truncated transfer, an HTML
            page instead of a checkpoint, a hash mismatch, or offline mode
            (``POSEKIT_OFFLINE=1``) with the file not in the cache.
    """
    name = os.path.basename(urllib.parse.unquote(urllib.parse.urlparse(url).path))
    if not url.startswith(_URL_PREFIXES) or not name:
        raise DownloadError(f'{url!r} is not an http(s) URL of a file')
    dest = os.path.join(dest_dir or cache_dir(), name)
    if os.path.isfile(dest):
        return dest
    if os.environ.get('POSEKIT_OFFLINE', '') not in ('', '0'):
        raise DownloadError(
            f'POSEKIT_OFFLINE is set and {url} is not downloaded: fetch it on a '
            f'connected machine and put it at {dest}')
    match = _HASH_SUFFIX.search(os.path.splitext(name)[0])
    expected = match.group(1) if (check_hash and match) else None
    with _turn(dest + '.lock'):
        if os.path.isfile(dest):   # fetched by the process before us
            return dest
        # a per-process temporary name, renamed on success, removed on any error
        with atomic_write(dest, 'wb') as f:
            digest = _fetch(url, f, dest, timeout, progress)
            if expected and not digest.startswith(expected):
                raise DownloadError(
                    f'{url}: the SHA-256 of the data starts with {digest[:len(expected)]}, '
                    f'its file name says {expected}: the transfer was corrupted or '
                    f'the file replaced; nothing was saved to {dest}')
    return dest


@contextlib.contextmanager
def _turn(lock_path: str):
    """Hold an exclusive ``flock`` on ``lock_path`` (created, and removed when
    done: a process still waiting holds the old file open and rechecks the
    download after its turn). Without ``fcntl`` (Windows) there is no lock;
    the atomic rename alone keeps the cache valid."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    os.makedirs(os.path.dirname(lock_path) or '.', exist_ok=True)
    with open(lock_path, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.remove(lock_path)
            fcntl.flock(f, fcntl.LOCK_UN)


def _fetch(url: str, f, dest: str, timeout: float, progress: bool) -> str:
    """Stream ``url`` into the open file ``f`` (to become ``dest``); return
    the SHA-256 hex digest. Every failure becomes one DownloadError."""
    def fail(why: str) -> DownloadError:
        return DownloadError(f'cannot download {url} to {dest}: {why}; nothing '
                             f'was saved')

    request = urllib.request.Request(url, headers={'User-Agent': 'posekit'})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.headers.get_content_type() == 'text/html':
                raise fail('the server sent an HTML page, not a checkpoint (a '
                           'wrong URL, or a page that needs a login)')
            length = response.headers.get('Content-Length')
            total = int(length) if length and length.isdigit() else None
            bar = _Progress(total, url, dest) if progress else None
            return _copy(response, f, total, bar, fail)
    except urllib.error.HTTPError as e:
        raise fail(f'HTTP {e.code} {e.reason}') from None
    except urllib.error.URLError as e:
        raise fail(f'no connection ({e.reason})') from None
    except (socket.timeout, TimeoutError):
        raise fail(f'no data for {timeout} s (timeout)') from None
    except http.client.IncompleteRead as e:
        raise fail(f'the transfer stopped after {len(e.partial)} bytes') from None
    except (http.client.HTTPException, ConnectionError) as e:
        raise fail(f'the connection failed ({type(e).__name__}: {e})') from None


def _copy(response, f, total: int | None, bar: '_Progress | None', fail) -> str:
    sha, done = hashlib.sha256(), 0
    while True:
        chunk = response.read(_CHUNK)
        if not chunk:
            break
        if done == 0 and chunk.lstrip()[:1] == b'<':  # pickles and zips never do
            raise fail('the server sent a web page (the body starts with "<"), '
                       'not a checkpoint')
        f.write(chunk)
        sha.update(chunk)
        done += len(chunk)
        if bar:
            bar.update(done)
    if bar:
        bar.close(done)
    if total is not None and done < total:
        raise fail(f'the transfer stopped after {done} of {total} bytes')
    return sha.hexdigest()


class _Progress:
    """Download progress on stderr: a redrawn line on a terminal, else only
    the line that says what is downloaded where."""

    def __init__(self, total: int | None, url: str, dest: str) -> None:
        self.total, self.last = total, 0.0
        self.tty = sys.stderr.isatty()
        print(f'posekit: downloading {url} to {dest}', file=sys.stderr, flush=True)

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.tty and now - self.last >= 0.1:  # redraw at most 10 times a second
            self.last = now
            of = f' / {self.total / 1e6:.1f} MB ({100 * done // self.total}%)' \
                if self.total else ' MB'
            sys.stderr.write(f'\r  {done / 1e6:.1f}{of}   ')
            sys.stderr.flush()

    def close(self, done: int) -> None:
        if self.tty:
            sys.stderr.write(f'\r  {done / 1e6:.1f} MB done{" " * 20}\n')
            sys.stderr.flush()
