"""``Compose``: run a list of transforms in order."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from posekit.registry import TRANSFORMS


@TRANSFORMS.register_module()
class Compose:
    """Apply transforms one after the other to a results dict.

    A transform may return ``None`` to say "this sample cannot be used" (an
    unreadable image, an augmentation that found no valid crop). ``Compose``
    then stops and returns ``None``, and the dataset picks another sample.

    Args:
        transforms (Sequence[dict | Callable], optional): Config dicts (built
            with ``TRANSFORMS.build``) or callables taking and returning a
            results dict. ``None`` means no transforms.
    """

    def __init__(self, transforms: Sequence[Mapping | Callable] | None = None):
        if isinstance(transforms, Mapping) or callable(transforms):
            raise TypeError('Compose: transforms must be a list of transform '
                            f'configs or callables, got {transforms!r}')
        self.transforms: list[Callable] = []
        for i, transform in enumerate(transforms or ()):
            if isinstance(transform, Mapping):
                transform = TRANSFORMS.build(transform)
            if not callable(transform):
                raise TypeError(f'Compose: transform #{i} must be a config '
                                f'dict or a callable, got {transform!r}')
            self.transforms.append(transform)

    def __call__(self, results: dict) -> dict | None:
        for transform in self.transforms:
            results = transform(results)
            if results is None:
                return None
        return results

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        inner = ''.join(f'\n    {t!r},' for t in self.transforms)
        return f'Compose([{inner}\n])' if inner else 'Compose([])'
