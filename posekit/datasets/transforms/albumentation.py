"""``Albumentation``: pixel-level transforms of the ``albumentations`` library.

MMPose 1.3.2 configs were written for albumentations 1.x and name its
arguments (``CoarseDropout(max_holes=1, max_height=0.4, ...)``,
``GridDropout(unit_size_min=10, ...)``). albumentations 2.x renamed them
and only *warns* about an argument it does not know, then runs with its own
defaults. Here the 1.x names are translated to the 2.x ones with the same
meaning when the installed class takes the 2.x ones (decided from its
signature, not its version: 1.4, which takes both, gets the arguments as
written); a 1.x argument without an exact 2.x equivalent, and any argument
the installed class does not take, raises an error naming it.
"""
from __future__ import annotations

import importlib
import inspect
import os
from typing import Any, Callable, Mapping, Sequence

from posekit.registry import TRANSFORMS


def _import_albumentations():
    # its import otherwise asks PyPI for a newer version: no connection
    # unless the user asked for that check (posekit never goes online unasked)
    os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
    try:
        return importlib.import_module('albumentations')
    except ImportError as e:
        if e.name not in (None, 'albumentations'):
            # installed, but one of its own dependencies is missing or broken
            raise ImportError(f'Albumentation: the "albumentations" package '
                              f'is installed but fails to import: {e}') from e
        raise ImportError(
            'Albumentation needs the optional "albumentations" package: '
            '`pip install posekit[all]` or `pip install albumentations`'
        ) from e


def _pop_pair(args: dict, name: str, low: str, high: str,
              default: Any = None) -> tuple[Any, Any]:
    """Pop 1.x ``(low, high)``; a missing ``low`` equals ``high`` (1.x)."""
    top = args.pop(high, default)
    bottom = args.pop(low, None)
    if top is None:
        raise ValueError(f'Albumentation: {name}({low}=...) needs {high} '
                         'as well')
    return (top if bottom is None else bottom), top


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _coarse_dropout_v1_to_v2(args: dict) -> dict:
    """albumentations 1.x ``CoarseDropout`` arguments -> 2.x ones.

    1.x draws ``randint(min_holes, max_holes)`` holes (inclusive); a missing
    ``min_*`` equals its ``max_*``, a missing ``max_*`` is 8. Sizes are all
    ints (pixels, ``randint`` inclusive) or all floats in ``[0, 1]``
    (``int(side * uniform(min, max))``). 2.x draws the same numbers from
    ``num_holes_range`` / ``hole_*_range``, reading the size ranges as
    pixels when ``max >= 1`` and as fractions otherwise, for height and
    width together; so a fraction range reaching 1.0, or pixels for one side
    and fractions for the other, has no 2.x equivalent and raises.
    """
    out = dict(args)
    holes = _pop_pair(out, 'CoarseDropout', 'min_holes', 'max_holes', 8)
    heights = _pop_pair(out, 'CoarseDropout', 'min_height', 'max_height', 8)
    widths = _pop_pair(out, 'CoarseDropout', 'min_width', 'max_width', 8)
    if not all(_is_int(v) for v in holes):
        raise TypeError(f'Albumentation: CoarseDropout min_holes/max_holes '
                        f'must be ints, got {holes}')
    sizes = heights + widths
    if all(_is_int(v) for v in sizes):
        pass
    elif all(isinstance(v, float) for v in sizes):
        if max(sizes) >= 1:
            raise ValueError(
                'Albumentation: CoarseDropout max_height/max_width as a '
                f'fraction of 1.0 or more ({heights}, {widths}) has no '
                'equivalent in albumentations 2.x, which reads a range '
                'reaching 1 as pixels; give pixels (ints) instead')
    else:
        raise TypeError('Albumentation: CoarseDropout min/max_height and '
                        'min/max_width must be all ints (pixels) or all '
                        f'floats (fractions), got {heights}, {widths}')
    out.update(num_holes_range=holes, hole_height_range=heights,
               hole_width_range=widths)
    return out


def _grid_dropout_v1_to_v2(args: dict) -> dict:
    """albumentations 1.x ``GridDropout`` arguments -> 2.x ones.

    1.x draws the unit size with ``random.randint(unit_size_min,
    unit_size_max)`` (inclusive), 2.x with ``Generator.integers(*range)``
    (exclusive), hence ``unit_size_range=(min, max + 1)``; 2.x then refuses
    a ``max + 1`` beyond the shortest image side, which 1.x allowed for
    ``max`` equal to it. 1.x's ``random_offset`` defaults to False, 2.x's
    to True, so it is written out. ``shift_x``/``shift_y`` default to 0 in
    both. One of ``unit_size_min``/``max`` or ``holes_number_x``/``y``
    alone has no 2.x equivalent and raises.
    """
    out = dict(args)
    out.setdefault('random_offset', False)
    for low, high, new in (('unit_size_min', 'unit_size_max', 'unit_size_range'),
                           ('holes_number_x', 'holes_number_y', 'holes_number_xy')):
        pair = out.pop(low, None), out.pop(high, None)
        if (pair[0] is None) != (pair[1] is None):
            raise ValueError(f'Albumentation: GridDropout needs both {low} '
                             f'and {high} (or {new}), got {pair}')
        if pair[0] is not None:
            out[new] = ((pair[0], pair[1] + 1) if new == 'unit_size_range'
                        else pair)
    if 'shift_x' in out or 'shift_y' in out:
        out['shift_xy'] = (out.pop('shift_x', 0) or 0,
                           out.pop('shift_y', 0) or 0)
    return out


# type -> (a 2.x-only argument, the 1.x arguments, translation)
_V1_TO_V2: dict[str, tuple[str, tuple[str, ...], Callable[[dict], dict]]] = {
    'CoarseDropout': ('num_holes_range', (
        'max_holes', 'max_height', 'max_width', 'min_holes', 'min_height',
        'min_width'), _coarse_dropout_v1_to_v2),
    'GridDropout': ('unit_size_range', (
        'unit_size_min', 'unit_size_max', 'holes_number_x', 'holes_number_y',
        'shift_x', 'shift_y'), _grid_dropout_v1_to_v2),
}
# 1.x fill arguments of both dropouts -> their 2.x names
_FILL_RENAMES = {'fill_value': 'fill', 'mask_fill_value': 'fill_mask'}


def _translate_v1_args(cls: type, args: dict) -> dict:
    """1.x arguments -> the installed class's, where it takes the 2.x ones."""
    params = inspect.signature(cls).parameters
    if 'always_apply' in args and 'always_apply' not in params:
        # 2.x dropped it: always applying is p=1, never forcing is the default
        if args.pop('always_apply'):
            args['p'] = 1.0
    entry = _V1_TO_V2.get(cls.__name__)
    if entry is None or entry[0] not in params or entry[1][0] in params:
        return args
    new_name, old_names, translate = entry
    old = [k for k in args if k in old_names or k in _FILL_RENAMES]
    if not old:
        return args
    clash = [k for k in args if k in params and k not in ('p', 'ratio',
                                                          'random_offset')]
    if clash:
        raise TypeError(f'Albumentation: {cls.__name__} mixes the '
                        f'albumentations 1.x arguments {old} with the 2.x '
                        f'ones {clash}; use one set')
    for old_name, new in _FILL_RENAMES.items():
        if old_name in args:
            args[new] = args.pop(old_name)
    return translate(args)


def _check_args(cls: type, args: Mapping) -> None:
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(args) - set(params))
    if unknown:
        raise TypeError(
            f'Albumentation: {cls.__name__} of the installed albumentations '
            f'takes no argument(s) {unknown}; it takes {sorted(params)}')


@TRANSFORMS.register_module()
class Albumentation:
    """Run pixel-level transforms of the ``albumentations`` library.

    The library is imported when the transform is built, so configs that do
    not use it do not need it. Transforms are given as config dicts whose
    ``type`` names a class of ``albumentations`` (or is a class); nested
    ``transforms`` lists (``OneOf``...) are built recursively. Arguments of
    albumentations 1.x are translated for 2.x (see the module docstring).

    Only the ``keymap`` keys reach the library (by default the image alone),
    as in MMPose: keypoints, boxes and masks are not passed, so only
    pixel-level transforms make sense here (a geometric one would move the
    image away from its annotations).

    Required Keys:
        - img (np.ndarray): ``(H, W, 3) uint8``, and any other key of
          ``keymap``.

    Modified Keys:
        - img and the other keys of ``keymap``.

    Args:
        transforms (list[dict]): e.g. ``[dict(type='Blur', p=0.1)]``.
        keymap (dict, optional): results key -> albumentations key.
            Defaults to ``{'img': 'image'}``.
    """

    def __init__(self, transforms: Sequence[Mapping],
                 keymap: Mapping[str, str] | None = None) -> None:
        self._albu = _import_albumentations()
        self.transforms = transforms
        self.aug = self._albu.Compose([self._build(t) for t in transforms])
        self.keymap = dict(keymap) if keymap else {'img': 'image'}

    def _build(self, cfg: Mapping):
        if not isinstance(cfg, Mapping) or 'type' not in cfg:
            raise TypeError('Albumentation: each transform must be a dict '
                            f'with a "type", got {cfg!r}')
        args = dict(cfg)
        obj_type = args.pop('type')
        if isinstance(obj_type, str):
            if not hasattr(self._albu, obj_type):
                raise KeyError(f'Albumentation: albumentations has no '
                               f'transform named {obj_type!r}')
            obj_type = getattr(self._albu, obj_type)
        elif not isinstance(obj_type, type):
            raise TypeError('Albumentation: "type" must be a name or a '
                            f'class, got {obj_type!r}')
        if 'transforms' in args:
            args['transforms'] = [self._build(t) for t in args['transforms']]
        args = _translate_v1_args(obj_type, args)
        _check_args(obj_type, args)
        return obj_type(**args)

    def __call__(self, results: dict) -> dict:
        inputs = {}
        for key, albu_key in self.keymap.items():
            if key not in results:
                raise KeyError(f'Albumentation: the results have no {key!r} '
                               '(named in keymap)')
            inputs[albu_key] = results[key]
        outputs = self.aug(**inputs)
        for key, albu_key in self.keymap.items():
            results[key] = outputs[albu_key]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.transforms})'
