"""Visualizer.show: waiting for continue_key, with OpenCV's window functions
replaced by a scripted window (no display needed)."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from posekit.visualization import PoseLocalVisualizer, Visualizer


class FakeWindow:
    """cv2.imshow / waitKey / getWindowProperty of one scripted window.

    ``keys`` are returned by successive waitKey calls (-1: no key); after
    them waitKey returns -1 after ``delay_ms``. The window reads as closed from the waitKey
    call number ``closed_after`` on.
    """

    def __init__(self, monkeypatch, keys=(), closed_after=None) -> None:
        self.keys, self.closed_after = list(keys), closed_after
        self.shown, self.waits = [], []
        monkeypatch.setattr(cv2, 'imshow', self.imshow)
        monkeypatch.setattr(cv2, 'waitKey', self.wait_key)
        monkeypatch.setattr(cv2, 'getWindowProperty', self.get_property)

    def imshow(self, name, image):
        self.shown.append((name, image.copy()))

    def wait_key(self, delay_ms):
        self.waits.append(delay_ms)
        key = self.keys.pop(0) if self.keys else -1
        if key == -1:
            time.sleep(delay_ms / 1000)   # no key: the time ran out
        return key

    def get_property(self, name, prop):
        assert prop == cv2.WND_PROP_VISIBLE and name == self.shown[-1][0]
        closed = self.closed_after is not None and len(self.waits) >= self.closed_after
        return 0.0 if closed else 1.0


IMAGE = np.zeros((4, 6, 3), np.uint8)
IMAGE[..., 0] = 255   # red in RGB


def test_wait_time_0_waits_for_the_continue_key(monkeypatch):
    window = FakeWindow(monkeypatch, keys=[-1, ord('a'), ord('q') | 0x100000, -1, ord(' ')])
    Visualizer().show(IMAGE, win_name='pose')
    assert len(window.waits) == 5   # 'a', 'q' and no-key polls go on
    name, shown = window.shown[0]
    assert name == 'pose' and shown[0, 0].tolist() == [0, 0, 255]   # BGR on screen


@pytest.mark.parametrize('continue_key, code', [('q', ord('q')), ('enter', 13),
                                                ('enter', 10), ('escape', 27)])
def test_other_continue_keys(monkeypatch, continue_key, code):
    window = FakeWindow(monkeypatch, keys=[ord(' '), ord('x'), code])
    Visualizer().show(IMAGE, continue_key=continue_key)
    assert len(window.waits) == 3   # the space bar no longer continues


def test_closing_the_window_ends_the_wait(monkeypatch):
    window = FakeWindow(monkeypatch, keys=[ord('a')] * 10, closed_after=4)
    Visualizer().show(IMAGE)
    assert len(window.waits) == 4


def test_positive_wait_time_returns_after_it_or_at_the_key(monkeypatch):
    window = FakeWindow(monkeypatch)
    start = time.monotonic()
    Visualizer().show(IMAGE, wait_time=0.12)
    elapsed = time.monotonic() - start
    assert 0.12 <= elapsed < 5
    assert all(1 <= ms <= 50 for ms in window.waits)

    window = FakeWindow(monkeypatch, keys=[ord('x'), ord(' ')])
    PoseLocalVisualizer().show(IMAGE, wait_time=30)
    assert len(window.waits) == 2


@pytest.mark.parametrize('continue_key', ['', 'ab', 'é', 32, 'F1'])
def test_bad_continue_key_is_named(monkeypatch, continue_key):
    window = FakeWindow(monkeypatch)
    with pytest.raises(ValueError, match='continue_key must be one ASCII character'):
        Visualizer().show(IMAGE, continue_key=continue_key)
    assert window.shown == []


def test_negative_wait_time_is_an_error(monkeypatch):
    FakeWindow(monkeypatch)
    with pytest.raises(ValueError, match='wait_time must be >= 0'):
        Visualizer().show(IMAGE, wait_time=-1)


def test_plain_visualizer_takes_no_skeleton_style():
    """It draws no skeleton: the option would be dropped, so it is refused."""
    vis = Visualizer()
    vis.set_dataset_meta(dict(dataset_name='coco'))
    assert vis.dataset_meta == dict(dataset_name='coco')
    with pytest.raises(TypeError, match='skeleton_style'):
        vis.set_dataset_meta(dict(dataset_name='coco'), skeleton_style='mmpose')
