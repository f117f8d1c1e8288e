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

Before calling the type, ``build`` checks the config's values against the
constructor's type annotations (:mod:`posekit.argcheck`) and names the key
path of a wrong one: ``optim_wrapper.optimizer.lr: 'abc' is a str, expected
float or Tensor (SGD)``. Where a config dict came from is known because the
caller says so (``build(cfg, path='model')``, or :func:`config_path` around
code that builds from a config later), and a build that is running records
the path of each dict among its arguments: when the constructor of
``model.head`` builds its ``loss`` dict, that build is ``model.head.loss``.
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import threading
from typing import Any, Callable, Iterator, Mapping

from posekit.argcheck import check_arguments
from posekit.errors import ConfigTypeError, PosekitError

# Scopes that MMPose 1.x configs use; each resolves to posekit itself.
KNOWN_SCOPES = ('mmpose', 'mmdet', 'mmpretrain', 'mmcls', 'mmengine', 'mmcv',
                'mmseg', 'mmyolo', 'mmdeploy', 'posekit')


class RegistryError(PosekitError, KeyError):
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

    def build(self, cfg: Mapping | Any, default_args: Mapping | None = None,
              path: str | None = None) -> Any:
        """Build an object from a config dict.

        Args:
            cfg (Mapping): ``type`` is a registered name or a class/function;
                every other key except ``_scope_`` becomes a keyword argument.
                An object that is not a mapping is returned unchanged, so
                components accept either a config or a built object.
            default_args (Mapping, optional): Keyword arguments used where
                ``cfg`` does not set them (not type-checked: code gives them).
            path (str, optional): Where ``cfg`` sits in the config (e.g.
                ``'model'``), for messages. By default the path recorded for
                this dict by an enclosing build or :func:`config_path`, else
                its type name.

        Raises:
            ConfigTypeError: A value of ``cfg`` that the constructor's
                annotations rule out, or an argument it does not take.
            RegistryError: No ``type``, or a name that is not registered.

        The input mapping is never mutated.
        """
        if not isinstance(cfg, Mapping):
            return cfg
        if 'type' not in cfg and 'type' not in (default_args or {}):
            raise RegistryError(f'{self.name}.build: the config '
                                f'{"at " + path + " " if path else ""}has no "type" '
                                f'key: {dict(cfg)!r}')
        kwargs = {**(default_args or {}), **cfg}
        obj_type = kwargs.pop('type')
        scope = kwargs.pop('_scope_', None)
        if scope is not None and scope not in KNOWN_SCOPES:
            raise RegistryError(f'{self.name}.build: unknown _scope_ {scope!r} in '
                                f'{dict(cfg)!r}; known scopes: {", ".join(KNOWN_SCOPES)}')
        factory = self.get(obj_type) if isinstance(obj_type, str) else obj_type
        if not callable(factory):
            raise TypeError(f'{self.name}.build: "type" must be a name or a '
                            f'class, got {obj_type!r}')
        path = path or _recorded_path(cfg) or getattr(factory, '__name__', str(obj_type))
        given = {k: kwargs[k] for k in cfg if k in kwargs}
        check_arguments(factory, given, path)
        with _recording(given, path):
            try:
                return factory(**kwargs)
            except PosekitError:
                raise
            except TypeError as e:
                if not _is_call_error(e, given):
                    raise
                # Name the place: a bare "unexpected keyword argument" is hard to find.
                raise ConfigTypeError(f'{path}: {self.name}.build({_qualname(factory)}): '
                                      f'{e}{_close_arguments(e, factory)}') from e

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


def _is_call_error(error: TypeError, given: Mapping) -> bool:
    """Whether ``error`` is Python refusing the arguments a config gave: an
    unknown, missing or repeated argument of the call itself, or one deeper
    down (``**kwargs`` passed on) that names a key of the config."""
    text = str(error)
    if not ('unexpected keyword argument' in text or 'multiple values for' in text
            or ('missing' in text and 'required' in text and 'argument' in text)):
        return False
    at_the_call = error.__traceback__ is not None and error.__traceback__.tb_next is None
    return at_the_call or any(f"'{key}'" in text for key in given)


def _close_arguments(error: TypeError, factory: Callable) -> str:
    """'; did you mean 'depth'?' for "unexpected keyword argument 'depthh'"."""
    text = str(error)
    if 'unexpected keyword argument' not in text:
        return ''
    name = text.rsplit(' ', 1)[-1].strip("'")
    try:
        names = list(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return ''
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    return f'; did you mean {", ".join(map(repr, close))}?' if close else ''


# ------------------------------------------------------------ config paths
class _Frames(threading.local):
    """Per thread: a stack of ``{id(dict): (dict, path)}``, innermost last."""

    def __init__(self) -> None:
        self.stack: list[dict[int, tuple[Any, str]]] = []


_FRAMES = _Frames()


@contextlib.contextmanager
def config_path(cfg: Any, path: str) -> Iterator[None]:
    """Within the block, builds of ``cfg`` or of a dict inside it are
    reported at their path: ``with config_path(cfg.optim_wrapper,
    'optim_wrapper'): build_optim_wrapper(...)`` names
    ``optim_wrapper.optimizer.lr`` in a type error of the optimizer."""
    with _recording({path: cfg}, ''):
        yield


@contextlib.contextmanager
def _recording(values: Mapping[str, Any], path: str) -> Iterator[None]:
    frame: dict[int, tuple[Any, str]] = {}
    for name, value in values.items():
        _record(value, f'{path}.{name}' if path else name, frame)
    stack = _FRAMES.stack
    stack.append(frame)
    try:
        yield
    finally:  # by identity: frames are dicts, and == would compare their contents
        del stack[max(i for i, f in enumerate(stack) if f is frame)]


def _record(value: Any, path: str, frame: dict, depth: int = 0) -> None:
    if depth > 20 or id(value) in frame:
        return
    if isinstance(value, Mapping):
        frame[id(value)] = (value, path)  # the dict is held, so its id stays its own
        for key, item in value.items():
            if isinstance(key, str):
                _record(item, f'{path}.{key}', frame, depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _record(item, f'{path}[{i}]', frame, depth + 1)


def path_of(cfg: Mapping) -> str | None:
    """Where ``cfg`` sits in the config being built (see :func:`config_path`),
    or None: for code that builds a component without :meth:`Registry.build`."""
    return _recorded_path(cfg)


def _recorded_path(cfg: Mapping) -> str | None:
    """The path of ``cfg``, or of the recorded dict it was copied from: the
    one of the same type whose items agree with it on the most keys."""
    for frame in reversed(_FRAMES.stack):
        hit = frame.get(id(cfg))
        if hit is not None and hit[0] is cfg:
            return hit[1]
    best, best_score = None, 1
    for frame in reversed(_FRAMES.stack):
        for recorded, path in frame.values():
            score = _agreement(recorded, cfg)
            if score > best_score:
                best, best_score = path, score
    return best


def _agreement(recorded: Mapping, cfg: Mapping) -> int:
    """How many keys two dicts share with equal values; 0 if one differs
    or they are of different types."""
    if recorded.get('type', cfg) != cfg.get('type'):
        return 0
    score = 0
    for key in recorded.keys() & cfg.keys():
        try:
            same = bool(recorded[key] == cfg[key])
        except Exception:  # noqa: BLE001 (arrays and tensors compare elementwise)
            same = recorded[key] is cfg[key]
        if not same:
            return 0
        score += 1
    return score


DATASETS = Registry('DATASETS', 'posekit.datasets')
TRANSFORMS = Registry('TRANSFORMS', 'posekit.datasets.transforms')
DATA_SAMPLERS = Registry('DATA_SAMPLERS', 'posekit.datasets')
KEYPOINT_CODECS = Registry('KEYPOINT_CODECS', 'posekit.codecs')
MODELS = Registry('MODELS', 'posekit.models')
# assigners, prior generators and the OKS calculator of one-stage heads
TASK_UTILS = Registry('TASK_UTILS', 'posekit.models')
METRICS = Registry('METRICS', 'posekit.evaluation')
EVALUATORS = Registry('EVALUATORS', 'posekit.evaluation')
VISUALIZERS = Registry('VISUALIZERS', 'posekit.visualization')
VISBACKENDS = Registry('VISBACKENDS', 'posekit.visualization')
HOOKS = Registry('HOOKS', 'posekit.engine')
OPTIMIZERS = Registry('OPTIMIZERS', 'posekit.engine')
OPTIM_WRAPPERS = Registry('OPTIM_WRAPPERS', 'posekit.engine')
PARAM_SCHEDULERS = Registry('PARAM_SCHEDULERS', 'posekit.engine')
LOOPS = Registry('LOOPS', 'posekit.engine')
