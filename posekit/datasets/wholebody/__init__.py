"""Whole-body (body + feet + face + hands) keypoint datasets."""
from .coco_wholebody import CocoWholeBodyDataset, UBody2dDataset
from .halpe import HalpeDataset

__all__ = ['CocoWholeBodyDataset', 'HalpeDataset', 'UBody2dDataset']
