"""Plain Python data from tensors and NumPy values, for files.

:func:`to_plain` is what JSON files (metrics, predictions, COCO results) and
checkpoints (``torch.load(weights_only=True)`` reads plain data only) are
made of.
"""
from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

import numpy as np
import torch

_SCALARS = (bool, int, float, str, bytes)
_TORCH_PLAIN = (torch.dtype, torch.device, torch.Size)


def to_plain(obj: Any, keep_tensors: bool = False, where: str = 'value') -> Any:
    """``obj`` as plain Python data.

    NumPy arrays become (nested) lists and NumPy scalars Python numbers
    (dict keys too); tensors become lists, or with ``keep_tensors`` detached
    CPU tensors (for ``torch.save``); dicts, lists and tuples are converted
    item by item, keeping ``OrderedDict`` and ``Counter``; sets become sorted
    lists. None, bool, int, float, str, bytes, and torch dtypes, devices and
    sizes are kept.

    Args:
        obj: What to convert.
        keep_tensors (bool): Keep tensors (on the CPU) instead of lists.
        where (str): Name of ``obj`` in error messages (nested values are
            named ``where.key`` and ``where[i]``).

    Raises:
        TypeError: A value of another type (naming where it is), which
            neither JSON nor a weights-only checkpoint could hold.
    """
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu()
        if keep_tensors:
            return obj
        return obj.float().tolist() if obj.dtype == torch.bfloat16 else obj.tolist()
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.tolist()
    if obj is None or isinstance(obj, _SCALARS + _TORCH_PLAIN):
        return obj
    if isinstance(obj, dict):
        plain = {k.item() if isinstance(k, np.generic) else k:
                 to_plain(v, keep_tensors, f'{where}.{k}') for k, v in obj.items()}
        return type(obj)(plain) if type(obj) in (OrderedDict, Counter) else plain
    if isinstance(obj, (list, tuple)):
        items = [to_plain(v, keep_tensors, f'{where}[{i}]') for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, (set, frozenset)):
        return sorted(to_plain(v, keep_tensors, where) for v in obj)
    raise TypeError(f'{where}: a {type(obj).__module__}.{type(obj).__qualname__} '
                    'is not plain data; store tensors, arrays, numbers, strings, '
                    'lists and dicts')
