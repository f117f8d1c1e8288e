"""All of posekit's registries, in one place.

A registry is a dict from type name to class (or function) plus a decorator
that fills it. ``X.build(dict(type='Name', **kwargs))`` calls ``Name(**kwargs)``.

Registering is explicit: each package's ``__init__`` imports its modules, and
each registry names the one package that fills it. The first lookup imports
that package, so building from a config never depends on what the caller
happened to import before.

MMPose configs name types with a scope prefix (``mmdet.YOLOXHSVRandomAug``,
``mmpretrain.VisionTransformer``) or a ``_scope_='mmdet'`` key. posekit has a
single flat namespace, so a known scope resolves to posekit's own type of
that name.
"""
from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable, Mapping

# Scopes that MMPose 1.x configs use; each resolves to posekit itself.
KNOWN_SCOPES = ('mmpose', 'mmdet', 'mmpretrain', 'mmcls', 'mmengine', 'mmcv',
                'mmseg', 'mmyolo', 'mmdeploy', 'posekit')


class RegistryError(KeyError):
    """A name that is missing, taken, or in an unknown scope.

    A KeyError (what a failed lookup is), printed without KeyError's quotes.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


class Registry:
    """A name -> class (or function) table.

    Args:
        name (str): What the registry holds, used in messages (e.g. 'MODELS').
        package (str, optional): Dotted name of the package whose import
            registers everything in this registry. Imported on first lookup.
    """

    def __init__(self, name: str, package: str | None = None):
        self.name = name
        self.package = package
        self._modules: dict[str, Any] = {}
        self._imported = package is None

    def register_module(self, name: str | None = None, force: bool = False,
                        module: Any = None) -> Any:
        """Register a class or function, as a decorator or a plain call.

        ``@X.register_module()``, ``@X.register_module(name='Alias')``,
        ``X.register_module(module=cls)``. A name already taken raises unless
        ``force=True``, which replaces it.
        """
        if name is not None and not isinstance(name, str):
            raise TypeError(f'{self.name}.register_module: name must be a '
                            f'str, got {type(name).__name__}')

        def register(obj: Any) -> Any:
            if not callable(obj):
                raise TypeError(f'{self.name}: only classes and functions '
                                f'can be registered, got {obj!r}')
            key = name or obj.__name__
            if not force and key in self._modules and self._modules[key] is not obj:
                raise RegistryError(f'{self.name}: {key!r} is already registered '
                               f'(by {_qualname(self._modules[key])}); pass '
                               f'force=True to replace it')
            self._modules[key] = obj
            return obj

        return register if module is None else register(module)

    def get(self, name: str) -> Any:
        """Return the class registered as ``name`` (scope prefix allowed)."""
        self._import_package()
        key = strip_scope(name, self.name)
        if key not in self._modules:
            raise RegistryError(self._unknown_message(name))
        return self._modules[key]

    def build(self, cfg: Mapping | Any,
              default_args: Mapping | None = None) -> Any:
        """Build an object from a config dict.

        Args:
            cfg (Mapping): ``type`` is a registered name or a class/function;
                every other key except ``_scope_`` becomes a keyword argument.
                An object that is not a mapping is returned unchanged, so
                components accept either a config or a built object.
            default_args (Mapping, optional): Keyword arguments used where
                ``cfg`` does not set them.

        The input mapping is never mutated.
        """
        if not isinstance(cfg, Mapping):
            return cfg
        kwargs = dict(default_args or {})
        kwargs.update(cfg)
        if 'type' not in kwargs:
            raise RegistryError(f'{self.name}.build: the config has no "type" key: '
                           f'{dict(cfg)!r}')
        obj_type = kwargs.pop('type')
        scope = kwargs.pop('_scope_', None)
        if scope is not None and scope not in KNOWN_SCOPES:
            raise RegistryError(f'{self.name}.build: unknown _scope_ {scope!r} in '
                           f'{dict(cfg)!r}; known scopes: {", ".join(KNOWN_SCOPES)}')
        factory = self.get(obj_type) if isinstance(obj_type, str) else obj_type
        if not callable(factory):
            raise TypeError(f'{self.name}.build: "type" must be a name or a '
                            f'class, got {obj_type!r}')
        try:
            return factory(**kwargs)
        except TypeError as e:
            # Name the type: a bare "unexpected keyword argument" is hard to place.
            raise TypeError(f'{self.name}.build({_qualname(factory)}): {e}') from e

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._import_package()
        try:
            return strip_scope(name, self.name) in self._modules
        except RegistryError:
            return False

    def __len__(self) -> int:
        self._import_package()
        return len(self._modules)

    def keys(self) -> list[str]:
        """Registered names, sorted."""
        self._import_package()
        return sorted(self._modules)

    def __repr__(self) -> str:
        self._import_package()
        names = ', '.join(sorted(self._modules)) or 'empty'
        return f'Registry({self.name}, {len(self._modules)} types: {names})'

    def _import_package(self) -> None:
        if not self._imported:
            self._imported = True  # set first: the import registers into us
            importlib.import_module(self.package)

    def _unknown_message(self, name: str) -> str:
        key = name.rsplit('.', 1)[-1]
        close = difflib.get_close_matches(key, self._modules, n=5, cutoff=0.6)
        hint = f'; did you mean {", ".join(map(repr, close))}?' if close else ''
        return f'{name!r} is not registered in {self.name}{hint}'


def strip_scope(name: str, registry_name: str = 'registry') -> str:
    """'mmdet.YOLOXHSVRandomAug' -> 'YOLOXHSVRandomAug' for a known scope."""
    scope, dot, rest = name.partition('.')
    if not dot:
        return name
    if scope not in KNOWN_SCOPES:
        raise RegistryError(f'{name!r} is not registered in {registry_name}: '
                       f'unknown scope {scope!r} (known scopes: '
                       f'{", ".join(KNOWN_SCOPES)})')
    return rest


def _qualname(obj: Callable) -> str:
    return f'{getattr(obj, "__module__", "?")}.{getattr(obj, "__qualname__", obj)}'


DATASETS = Registry('DATASETS', 'posekit.datasets')
TRANSFORMS = Registry('TRANSFORMS', 'posekit.datasets.transforms')
DATA_SAMPLERS = Registry('DATA_SAMPLERS', 'posekit.datasets')
KEYPOINT_CODECS = Registry('KEYPOINT_CODECS', 'posekit.codecs')
MODELS = Registry('MODELS', 'posekit.models')
METRICS = Registry('METRICS', 'posekit.evaluation')
EVALUATORS = Registry('EVALUATORS', 'posekit.evaluation')
VISUALIZERS = Registry('VISUALIZERS', 'posekit.visualization')
VISBACKENDS = Registry('VISBACKENDS', 'posekit.visualization')
HOOKS = Registry('HOOKS', 'posekit.engine')
OPTIMIZERS = Registry('OPTIMIZERS', 'posekit.engine')
OPTIM_WRAPPERS = Registry('OPTIM_WRAPPERS', 'posekit.engine')
PARAM_SCHEDULERS = Registry('PARAM_SCHEDULERS', 'posekit.engine')
LOOPS = Registry('LOOPS', 'posekit.engine')
