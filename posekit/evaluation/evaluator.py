"""Evaluator: run several metrics over the same predictions.

A config's ``val_evaluator`` / ``test_evaluator`` is one metric config, a
list of them, or (with a ``metrics`` key) an evaluator config;
:func:`build_evaluator` accepts all three, as MMEngine's runner does. Each
metric names its results itself (``coco/AP``, ``PCK``...): the evaluator adds
no prefix, and two metrics giving the same name is an error.
"""
from __future__ import annotations

from typing import Any, Iterator, List, Optional, Sequence, Union

from posekit.registry import EVALUATORS, METRICS
from .metrics.base_metric import BaseMetric, as_dict


@EVALUATORS.register_module()
class Evaluator:
    """Feeds every metric and merges their results.

    Args:
        metrics (dict | BaseMetric | Sequence): Metric configs or objects.
    """

    def __init__(self, metrics: Union[dict, BaseMetric, Sequence]) -> None:
        if isinstance(metrics, (dict, BaseMetric)) or not isinstance(
                metrics, Sequence):
            metrics = [metrics]
        self.metrics: List[BaseMetric] = [METRICS.build(m) for m in metrics]
        self._dataset_meta: Optional[dict] = None

    @property
    def dataset_meta(self) -> Optional[dict]:
        """dict: The dataset's meta information, passed on to every metric."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        for metric in self.metrics:
            metric.dataset_meta = dataset_meta

    def process(self, data_samples: Sequence[Any],
                data_batch: Optional[Any] = None) -> None:
        """Give one batch of predictions (data samples or dicts) to every
        metric, as dicts."""
        samples = [as_dict(s) for s in data_samples]
        for metric in self.metrics:
            metric.process(data_batch, samples)

    def evaluate(self, size: int) -> dict:
        """All metrics' results (see :meth:`BaseMetric.evaluate`)."""
        results = {}
        for metric in self.metrics:
            for name, value in metric.evaluate(size).items():
                if name in results:
                    raise ValueError(
                        f'two metrics give a result named {name!r}; give one '
                        'of them another prefix (prefix=...)')
                results[name] = value
        return results

    def offline_evaluate(self, data_samples: Sequence,
                         data: Optional[Sequence] = None,
                         chunk_size: int = 1) -> dict:
        """Evaluate saved predictions (and their inputs) in chunks."""
        if data is not None and len(data) != len(data_samples):
            raise ValueError(f'data_samples ({len(data_samples)}) and data '
                             f'({len(data)}) differ in length')
        data_chunks = _chunks(data, chunk_size) if data is not None else None
        for chunk in _chunks(data_samples, chunk_size):
            self.process(chunk, next(data_chunks) if data_chunks else None)
        return self.evaluate(len(data_samples))


def _chunks(items: Sequence, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def build_evaluator(cfg: Union[dict, list, Evaluator]) -> Evaluator:
    """An evaluator from a config's ``val_evaluator`` / ``test_evaluator``.

    A dict with ``metrics`` builds a registered evaluator (default type
    ``Evaluator``); any other dict or a list is taken as metric configs.
    """
    if isinstance(cfg, Evaluator):
        return cfg
    if isinstance(cfg, dict) and 'metrics' in cfg:
        cfg = dict(cfg)
        cfg.setdefault('type', 'Evaluator')
        return EVALUATORS.build(cfg)
    return Evaluator(cfg)
