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
import sys
from itertools import chain, zip_longest
from typing import Any, Optional, Sequence

import numpy as np

# the old import path of to_numpy (posekit.structures has the one helper)
from posekit.structures import to_numpy  # noqa: F401

logger = logging.getLogger('posekit.evaluation')


class BaseMetric:
    """Base class of metrics.

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``; accepted for config
            compatibility (results are gathered as Python objects either way).
        prefix (str, optional): Prepended to every metric name, with a ``/``.
            Default: the class's ``default_prefix`` (None: no prefix).
        collect_dir (str, optional): Accepted for config compatibility.
    """

    default_prefix: Optional[str] = None

    def __init__(self, collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if collect_device not in ('cpu', 'gpu', 'cuda'):
            raise ValueError(f"{type(self).__name__}: collect_device must be "
                             f"'cpu' or 'gpu', got {collect_device!r}")
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
        results = collect_results(self.results, size)
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


# ------------------------------------------------------------- distributed
def _dist():
    """torch.distributed when it is initialised with several ranks, else None.

    Not imported here: if nothing imported it, nothing initialised it.
    """
    dist = sys.modules.get('torch.distributed')
    if dist is not None and dist.is_available() and dist.is_initialized() and \
            dist.get_world_size() > 1:
        return dist
    return None


def get_rank() -> int:
    dist = _dist()
    return dist.get_rank() if dist else 0


def collect_results(part: list, size: int) -> list:
    """All ranks' results in dataset order, the first ``size`` of them.

    A distributed sampler gives rank ``r`` the samples ``r, r + W, ...``, so
    the parts are interleaved back; the sampler's padding is cut off.
    Without distribution this is ``part[:size]``.
    """
    dist = _dist()
    if dist is None:
        return part[:size]
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, part)
    ordered = [r for r in chain.from_iterable(zip_longest(*parts))
               if r is not None]
    return ordered[:size]


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (identity without distribution)."""
    dist = _dist()
    if dist is None:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def stack_results(results: list, key: str) -> np.ndarray:
    """``np.concatenate`` of one field over all results."""
    return np.concatenate([r[key] for r in results])
