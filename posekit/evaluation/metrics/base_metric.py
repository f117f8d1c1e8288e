"""BaseMetric: collect per-batch results, then compute metrics once.

The protocol is MMEngine's, which MMPose's metrics and runners use:
``process(data_batch, data_samples)`` after each batch appends to
``self.results``; ``evaluate(size)`` gathers the results of all ranks (in
dataset order, padding dropped), computes the metrics on rank 0, prefixes
their names with ``prefix`` (``'coco/AP'``), shares them with every rank and
clears the results.

``data_samples`` are what the model's ``predict`` returns merged with the
packed ground truth, as dicts (``PoseDataSample.to_dict()``, which is what
the :class:`~posekit.evaluation.Evaluator` passes); a data sample object is
accepted too.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

import numpy as np

# the old import path of to_numpy (posekit.structures has the one helper)
from posekit.structures import to_numpy  # noqa: F401
# the old import path of the gathering helpers
from .collect import (COLLECT_DEVICES, broadcast_object, collect_results,  # noqa: F401
                      get_rank)

logger = logging.getLogger('posekit.evaluation')


class BaseMetric:
    """Base class of metrics.

    Args:
        collect_device (str): How a distributed evaluation gathers the
            results on rank 0 (MMEngine's): ``'cpu'`` through pickle files
            in a folder all ranks share, ``'gpu'`` through the process
            group's collective (``'cuda'`` is the same); see
            :mod:`.collect`. Default ``'cpu'``.
        prefix (str, optional): Prepended to every metric name, with a ``/``.
            Default: the class's ``default_prefix`` (None: no prefix).
        collect_dir (str, optional): With ``collect_device='cpu'``: the
            shared folder for the part files (created if missing). Unlike
            MMEngine, which deletes the whole folder after each evaluation,
            posekit removes only its ``part_{rank}.pkl`` files from a folder
            you give; without one, a temporary folder is made in the
            working directory and removed.
    """

    default_prefix: Optional[str] = None

    def __init__(self, collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        name = type(self).__name__
        if collect_device not in COLLECT_DEVICES:
            raise ValueError(f"{name}: collect_device must be 'cpu' or 'gpu', "
                             f'got {collect_device!r}')
        if collect_dir is not None and collect_device != 'cpu':
            raise ValueError(f'{name}: collect_dir is only used with '
                             f"collect_device='cpu', got {collect_device!r}")
        self._dataset_meta: Optional[dict] = None
        self.collect_device = collect_device
        self.collect_dir = collect_dir
        self.results: list = []
        self.prefix = prefix or self.default_prefix

    @property
    def dataset_meta(self) -> Optional[dict]:
        """dict: The dataset's meta information (sigmas, names...)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Turn one batch of data samples into entries of ``self.results``."""
        raise NotImplementedError

    def compute_metrics(self, results: list) -> dict:
        """Metrics (name -> value) of the results of the whole dataset."""
        raise NotImplementedError

    def evaluate(self, size: int) -> dict:
        """Metrics of everything processed since the last call.

        Args:
            size (int): Length of the dataset; results beyond it (padding
                added by a distributed sampler) are dropped.

        Returns:
            dict: ``{prefix/name: value}``, the same on every rank.
        """
        if not self.results:
            logger.warning('%s got no results: was process() called?',
                           type(self).__name__)
        results = collect_results(self.results, size, self.collect_device,
                                  self.collect_dir)
        metrics = None
        if get_rank() == 0:
            metrics = self.compute_metrics(results)
            if self.prefix:
                metrics = {f'{self.prefix}/{k}': v for k, v in metrics.items()}
        metrics = broadcast_object(metrics)
        self.results.clear()
        return metrics


def as_dict(data_sample: Any) -> dict:
    """A data sample as the dict metrics read (``to_dict()`` of an object)."""
    to_dict = getattr(data_sample, 'to_dict', None)
    return to_dict() if callable(to_dict) else data_sample


def stack_results(results: list, key: str) -> np.ndarray:
    """``np.concatenate`` of one field over all results."""
    return np.concatenate([r[key] for r in results])
