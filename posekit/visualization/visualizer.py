"""Visualizer: the picture being drawn plus the vis backends it records to.

MMEngine's ``Visualizer`` API (``set_image``, ``get_image``, ``add_image``,
``add_scalars``, ``add_config``, ``show``, ``close``) without its matplotlib
drawing or its global instances: a runner owns one visualizer, built from the
``visualizer`` config, and hands it to the hooks.

Backends write on the main process only (rank 0 of a distributed run);
drawing works everywhere.
"""
from __future__ import annotations

import math
import os.path as osp
import time
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from posekit.registry import VISBACKENDS, VISUALIZERS
from posekit.structures import to_numpy
from .vis_backends import BaseVisBackend


def is_main_process() -> bool:
    """True unless this is a non-zero rank of an initialised process group."""
    import torch.distributed as dist
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def as_rgb_image(image: Any) -> np.ndarray:
    """(H, W, 3) uint8 C-contiguous copy of an RGB, RGBA or gray image."""
    array = np.asarray(to_numpy(image))
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1):
        return cv2.cvtColor(array.reshape(array.shape[:2]), cv2.COLOR_GRAY2RGB)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f'expected an (H, W, 3) RGB image, got shape {array.shape}')
    return np.ascontiguousarray(array[..., :3]).copy()


# waitKey's codes of the keys matplotlib names (MMEngine's continue_key)
_NAMED_KEYS = {'enter': (10, 13), 'escape': (27, ), 'esc': (27, ), 'tab': (9, ),
               'backspace': (8, 127), ' ': (32, ), 'space': (32, )}
_KEY_POLL_S = 0.05   # how often show() looks at the window between keys


def _key_codes(continue_key: str) -> tuple[int, ...]:
    """The ``cv2.waitKey`` codes (low byte) that mean ``continue_key``."""
    if isinstance(continue_key, str):
        if continue_key.lower() in _NAMED_KEYS:
            return _NAMED_KEYS[continue_key.lower()]
        if len(continue_key) == 1 and ord(continue_key) < 128:
            return (ord(continue_key), )
    raise ValueError(f'show: continue_key must be one ASCII character or one of '
                     f'{sorted(k for k in _NAMED_KEYS if len(k) > 1)}, '
                     f'got {continue_key!r}')


def _window_open(win_name: str) -> bool:
    """False once the user closed the window (or the GUI cannot tell)."""
    try:
        return cv2.getWindowProperty(win_name, cv2.WND_PROP_VISIBLE) >= 1
    except cv2.error:
        return False


def build_vis_backends(vis_backends: Any, save_dir: str | None) -> dict[str, BaseVisBackend]:
    """Backends by name from configs (or built backends).

    A config's ``save_dir`` defaults to ``save_dir/vis_data`` (MMEngine's
    layout). A backend left without a ``save_dir`` (a visualizer built for
    drawing only) is not kept, as in MMEngine.
    """
    if vis_backends is None:
        vis_backends = []
    elif isinstance(vis_backends, (Mapping, BaseVisBackend)):
        vis_backends = [vis_backends]
    if not isinstance(vis_backends, Sequence):
        raise TypeError('vis_backends must be a list of dicts or of vis backends, '
                        f'got {type(vis_backends).__name__}')
    backends: dict[str, BaseVisBackend] = {}
    for item in vis_backends:
        name = None
        if isinstance(item, Mapping):
            cfg = dict(item)
            name = cfg.pop('name', None)
            default_dir = None if save_dir is None else osp.join(save_dir, 'vis_data')
            cfg.setdefault('save_dir', default_dir)
            item = VISBACKENDS.build(cfg)
        if not isinstance(item, BaseVisBackend):
            raise TypeError(f'vis_backends: {item!r} is not a vis backend')
        if item.save_dir is None:
            continue
        name = name or type(item).__name__
        if name in backends:
            raise ValueError(f'vis_backends: two backends named {name!r}; give one '
                             "a 'name'")
        backends[name] = item
    return backends


@VISUALIZERS.register_module()
class Visualizer:
    """An image to draw on and the backends that record images and scalars.

    Args:
        name (str): The visualizer's name. Defaults to 'visualizer'.
        image (np.ndarray, optional): (H, W, 3) uint8 RGB image to start with.
        vis_backends (list[dict], optional): Backend configs (``type``, an
            optional ``name`` and the backend's arguments) or backends.
        save_dir (str, optional): Backends write under ``save_dir/vis_data``
            unless their config names a ``save_dir``. Without it, backends
            that need a folder are not kept.
    """

    def __init__(self, name: str = 'visualizer', image: np.ndarray | None = None,
                 vis_backends: Sequence[Mapping] | Mapping | None = None,
                 save_dir: str | None = None) -> None:
        self.name = name
        self.dataset_meta: dict = {}
        self._image: np.ndarray | None = None
        self._vis_backends = build_vis_backends(vis_backends, save_dir)
        if image is not None:
            self.set_image(image)

    # -------------------------------------------------------------- image
    def set_image(self, image: np.ndarray) -> None:
        """Start drawing on (a uint8 copy of) an RGB image."""
        self._image = as_rgb_image(image)

    def get_image(self) -> np.ndarray:
        """The current picture, (H, W, 3) uint8 RGB."""
        if self._image is None:
            raise ValueError(f'{type(self).__name__}: no image; call set_image first')
        return self._image

    def show(self, drawn_img: np.ndarray | None = None, win_name: str = 'image',
             wait_time: float = 0., continue_key: str = ' ') -> None:
        """Show an RGB image in an OpenCV window and wait (needs a display
        and an OpenCV built with window support; OSError otherwise).

        Args:
            drawn_img (np.ndarray, optional): (H, W, 3) uint8 RGB; default
                the current picture.
            win_name (str): The window's name.
            wait_time (float): Seconds. 0 waits until ``continue_key`` is
                pressed or the window is closed (MMEngine's
                ``wait_continue``); a positive time waits that long at most,
                ``continue_key`` or closing the window ends it sooner. Other
                keys are ignored either way.
            continue_key (str): One character (``' '``, the space bar, by
                default), or ``'enter'``, ``'escape'``, ``'tab'``,
                ``'backspace'`` (matplotlib's names, which MMEngine's
                ``continue_key`` takes).
        """
        codes = _key_codes(continue_key)
        if wait_time < 0:
            raise ValueError(f'show: wait_time must be >= 0 seconds, got {wait_time}')
        image = self.get_image() if drawn_img is None else as_rgb_image(drawn_img)
        try:
            cv2.imshow(win_name, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        except cv2.error as e:
            raise OSError('cannot show pictures: this OpenCV has no window support '
                          '(opencv-python-headless, or no display); write them to '
                          'files instead (out_file, --vis-out-dir), or install '
                          'opencv-python on a machine with a display') from e
        deadline = time.monotonic() + wait_time if wait_time > 0 else None
        while True:
            poll = _KEY_POLL_S if deadline is None else min(
                _KEY_POLL_S, deadline - time.monotonic())
            key = cv2.waitKey(max(1, int(math.ceil(poll * 1000))))
            if key != -1 and (key & 0xFF) in codes:
                return
            if not _window_open(win_name):
                return
            if deadline is not None and time.monotonic() >= deadline:
                return

    # ------------------------------------------------------------ backends
    @property
    def vis_backends(self) -> dict[str, BaseVisBackend]:
        return dict(self._vis_backends)

    def get_backend(self, name: str) -> BaseVisBackend | None:
        """The backend called ``name`` (by default its type name), or None."""
        return self._vis_backends.get(name)

    def add_config(self, config: Any, **kwargs) -> None:
        """Record the config (the resolved config of a run)."""
        if is_main_process():
            for backend in self._vis_backends.values():
                backend.add_config(config, **kwargs)

    def add_graph(self, model: Any, data_batch: Any = None, **kwargs) -> None:
        if is_main_process():
            for backend in self._vis_backends.values():
                backend.add_graph(model, data_batch, **kwargs)

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        """Record an (H, W, 3) uint8 RGB image (``vis_image/NAME_STEP.png``
        for LocalVisBackend)."""
        if is_main_process():
            for backend in self._vis_backends.values():
                backend.add_image(name, image, step)

    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs) -> None:
        self.add_scalars({name: value}, step, **kwargs)

    def add_scalars(self, scalar_dict: Mapping, step: int = 0,
                    file_path: str | None = None, **kwargs) -> None:
        """Record numbers at ``step`` (one ``scalars.json`` line for
        LocalVisBackend)."""
        if is_main_process():
            for backend in self._vis_backends.values():
                backend.add_scalars(scalar_dict, step, file_path, **kwargs)

    def close(self) -> None:
        """Close the backends' writers (they reopen on the next write)."""
        for backend in self._vis_backends.values():
            backend.close()

    def set_dataset_meta(self, dataset_meta: Mapping | None) -> None:
        """Keep the dataset's meta information (``PoseLocalVisualizer``
        also takes its colours and skeleton, and a ``skeleton_style``)."""
        self.dataset_meta = dict(dataset_meta or {})
