"""Vis backends (registered in ``VISBACKENDS``): where the visualizer's
images, scalars and config go. MMEngine's names and arguments.

- ``LocalVisBackend``: files under ``save_dir`` (``vis_image/NAME_STEP.png``,
  ``scalars.json``, ``config.py``);
- ``TensorboardVisBackend``: event files under ``save_dir`` (needs the
  ``tensorboard`` package);
- ``WandbVisBackend``: a Weights & Biases run (needs the ``wandb`` package).

A backend whose package is missing raises ImportError when it is built, not
at its first write: a run must not train for an hour and then fail. Nothing
is created on disk until the first write. Images given to backends are
(H, W, 3) uint8 RGB.

Scalars are numbers: ints, floats, bools, numpy scalars and one-element
arrays or tensors (turned into Python numbers with ``.item()``); anything
else raises TypeError naming the key. Non-finite values (a diverged loss) are
kept: ``scalars.json`` holds them as the tokens ``NaN`` / ``Infinity``, as
MMEngine writes them (Python's ``json`` reads them back; ``posekit
plot-log`` leaves those points out of the curves).
"""
from __future__ import annotations

import importlib.util
import json
import os
import os.path as osp
from typing import Any, Mapping

import cv2
import numpy as np

from posekit.fileio import write_image, write_text
from posekit.registry import VISBACKENDS
from posekit.structures import to_numpy


def scalar_value(name: str, value: Any) -> int | float:
    """``value`` as a Python number, or TypeError naming ``name``."""
    if isinstance(value, (bool, int, float)):
        return value
    value = to_numpy(value)
    if isinstance(value, (np.ndarray, np.generic)) and value.size == 1 \
            and value.dtype.kind in 'biuf':
        return value.item()
    raise TypeError(f'scalar {name!r} is not a number: {type(value).__name__} {value!r}')


def scalar_record(scalar_dict: Mapping, step: int) -> dict:
    """Numbers of ``scalar_dict`` plus ``step`` (a key of its own is refused)."""
    if not isinstance(scalar_dict, Mapping):
        raise TypeError(f'add_scalars expects a dict, got {type(scalar_dict).__name__}')
    if 'step' in scalar_dict:
        raise ValueError("add_scalars: pass the step as the step argument, "
                         "not as a 'step' key")
    record = {str(k): scalar_value(k, v) for k, v in scalar_dict.items()}
    record['step'] = int(step)
    return record


def config_text(config: Any) -> str:
    """The text of a config: a posekit ``Config``, a dict or a string."""
    if isinstance(config, str):
        return config
    if hasattr(config, 'pretty_text'):
        return config.pretty_text
    if isinstance(config, Mapping):
        from posekit.config import Config
        return Config(dict(config)).pretty_text
    raise TypeError(f'add_config expects a Config, a dict or a str, got '
                    f'{type(config).__name__}')


def require_package(package: str, backend: str) -> None:
    """ImportError with the pip command when ``package`` is not installed."""
    if importlib.util.find_spec(package) is None:
        raise ImportError(f'{backend} needs the {package} package, which is not '
                          f'installed: pip install {package}')


class BaseVisBackend:
    """A place to record images, scalars and the config.

    Args:
        save_dir (str): Folder of this backend's files, made on first write.
    """

    def __init__(self, save_dir: str | None) -> None:
        self._save_dir = save_dir
        self._env_initialized = False

    @property
    def save_dir(self) -> str | None:
        return self._save_dir

    @property
    def experiment(self) -> Any:
        """The underlying writer (the backend itself, a SummaryWriter, wandb)."""
        self._ensure_env()
        return self._experiment()

    def _ensure_env(self) -> None:
        if not self._env_initialized:
            if self._save_dir is None:
                raise ValueError(f'{type(self).__name__} has no save_dir')
            os.makedirs(self._save_dir, exist_ok=True)
            self._init_env()
            self._env_initialized = True

    def _init_env(self) -> None:
        pass

    def _experiment(self) -> Any:
        return self

    def add_config(self, config: Any, **kwargs) -> None:
        pass

    def add_graph(self, model: Any, data_batch: Any = None, **kwargs) -> None:
        pass

    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs) -> None:
        pass

    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs) -> None:
        self.add_scalars({name: value}, step)

    def add_scalars(self, scalar_dict: Mapping, step: int = 0,
                    file_path: str | None = None, **kwargs) -> None:
        pass

    def close(self) -> None:
        """Release the writer; a later write opens it again."""
        self._env_initialized = False


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise TypeError(f'add_image expects an (H, W, 3) uint8 RGB image, got '
                        f'{image.dtype} of shape {image.shape}')
    return image


@VISBACKENDS.register_module()
class LocalVisBackend(BaseVisBackend):
    """Files under ``save_dir``.

    Args:
        save_dir (str): The folder (``WORK_DIR/TIMESTAMP/vis_data`` in a run).
        img_save_dir (str): Subfolder of the images ``NAME_STEP.png``.
        config_save_file (str): File of the config text (``.py``).
        scalar_save_file (str): File of the scalars, one JSON object per
            ``add_scalars`` call with its ``step`` (``.json``).
    """

    def __init__(self, save_dir: str | None, img_save_dir: str = 'vis_image',
                 config_save_file: str = 'config.py',
                 scalar_save_file: str = 'scalars.json') -> None:
        if not str(config_save_file).endswith('.py'):
            raise ValueError(f'LocalVisBackend: config_save_file must end with .py, '
                             f'got {config_save_file!r}')
        if not str(scalar_save_file).endswith('.json'):
            raise ValueError(f'LocalVisBackend: scalar_save_file must end with .json, '
                             f'got {scalar_save_file!r}')
        super().__init__(save_dir)
        self.img_save_dir = img_save_dir
        self.config_save_file = config_save_file
        self.scalar_save_file = scalar_save_file

    def _path(self, name: str) -> str:
        return osp.join(self._save_dir, name)

    def add_config(self, config: Any, **kwargs) -> None:
        """Write the config's text to ``config_save_file`` (replacing it)."""
        text = config_text(config)
        self._ensure_env()
        write_text(self._path(self.config_save_file), text)

    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs) -> None:
        """Write an RGB image to ``img_save_dir/NAME_STEP.png`` (colours as given)."""
        image = _check_image(image)
        self._ensure_env()
        folder = self._path(self.img_save_dir)
        if image.ndim == 3 and image.shape[2] == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        elif image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
        write_image(osp.join(folder, f'{name}_{step}.png'), image)

    def add_scalars(self, scalar_dict: Mapping, step: int = 0,
                    file_path: str | None = None, **kwargs) -> None:
        """Append ``{**scalar_dict, "step": step}`` as one line of
        ``scalar_save_file`` (and of ``save_dir/file_path`` if given)."""
        line = json.dumps(scalar_record(scalar_dict, step)) + '\n'
        files = [self.scalar_save_file]
        if file_path is not None:
            if not file_path.endswith('.json') or file_path == self.scalar_save_file:
                raise ValueError(f'add_scalars: file_path must be another .json '
                                 f'file than {self.scalar_save_file}, got {file_path!r}')
            files.append(file_path)
        self._ensure_env()
        for name in files:
            with open(self._path(name), 'a', encoding='utf-8') as f:
                f.write(line)


@VISBACKENDS.register_module()
class TensorboardVisBackend(BaseVisBackend):
    """TensorBoard event files under ``save_dir`` (``pip install tensorboard``).

    Args:
        save_dir (str): The folder of the event files.
    """

    def __init__(self, save_dir: str | None) -> None:
        require_package('tensorboard', 'TensorboardVisBackend')
        super().__init__(save_dir)
        self._writer = None

    def _init_env(self) -> None:
        from torch.utils.tensorboard import SummaryWriter
        self._writer = SummaryWriter(self._save_dir)

    def _experiment(self) -> Any:
        return self._writer

    def add_config(self, config: Any, **kwargs) -> None:
        text = config_text(config)
        self._ensure_env()
        self._writer.add_text('config', text)

    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs) -> None:
        image = _check_image(image)
        self._ensure_env()
        self._writer.add_image(name, image, step, dataformats='HWC' if image.ndim == 3 else 'HW')

    def add_scalars(self, scalar_dict: Mapping, step: int = 0,
                    file_path: str | None = None, **kwargs) -> None:
        record = scalar_record(scalar_dict, step)
        step = record.pop('step')
        self._ensure_env()
        for key, value in record.items():
            self._writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        super().close()


@VISBACKENDS.register_module()
class WandbVisBackend(BaseVisBackend):
    """A Weights & Biases run (``pip install wandb``), started on first write.

    Args (MMEngine's):
        save_dir (str): wandb's ``dir`` unless ``init_kwargs`` names one.
        init_kwargs (dict, optional): Keyword arguments of ``wandb.init``.
        define_metric_cfg (dict | list, optional): ``{metric: summary}`` or a
            list of ``wandb.define_metric`` keyword dicts.
        commit (bool): ``commit`` of each ``wandb.log`` call.
        log_code_name (str, optional): With it, ``add_config`` also saves the
            code (``wandb.run.log_code``); without it no code is uploaded.
        watch_kwargs (dict, optional): Keyword arguments of ``wandb.watch``
            (``add_graph``).

    Steps are not passed to wandb (it counts its own), as in MMEngine.
    """

    def __init__(self, save_dir: str | None, init_kwargs: Mapping | None = None,
                 define_metric_cfg: Mapping | list | None = None,
                 commit: bool = True, log_code_name: str | None = None,
                 watch_kwargs: Mapping | None = None) -> None:
        require_package('wandb', 'WandbVisBackend')
        if define_metric_cfg is not None and not isinstance(define_metric_cfg, (Mapping, list)):
            raise TypeError('WandbVisBackend: define_metric_cfg must be a dict or a list')
        super().__init__(save_dir)
        self.init_kwargs = dict(init_kwargs or {})
        self.define_metric_cfg = define_metric_cfg
        self.commit = commit
        self.log_code_name = log_code_name
        self.watch_kwargs = dict(watch_kwargs or {})
        self._wandb = None

    def _init_env(self) -> None:
        import wandb
        wandb.init(**{'dir': self._save_dir, **self.init_kwargs})
        metrics = self.define_metric_cfg
        if isinstance(metrics, Mapping):
            metrics = [dict(name=k, summary=v) for k, v in metrics.items()]
        for cfg in metrics or ():
            wandb.define_metric(**cfg)
        self._wandb = wandb

    def _experiment(self) -> Any:
        return self._wandb

    def add_config(self, config: Any, **kwargs) -> None:
        data = config.to_dict() if hasattr(config, 'to_dict') else dict(config)
        self._ensure_env()
        self._wandb.config.update(
            data, allow_val_change=self.init_kwargs.get('allow_val_change', False))
        if self.log_code_name is not None:
            self._wandb.run.log_code(name=self.log_code_name)

    def add_graph(self, model: Any, data_batch: Any = None, **kwargs) -> None:
        self._ensure_env()
        self._wandb.watch(model, **self.watch_kwargs)

    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs) -> None:
        image = _check_image(image)
        self._ensure_env()
        self._wandb.log({name: self._wandb.Image(image)}, commit=self.commit)

    def add_scalars(self, scalar_dict: Mapping, step: int = 0,
                    file_path: str | None = None, **kwargs) -> None:
        record = scalar_record(scalar_dict, step)
        record.pop('step')
        self._ensure_env()
        self._wandb.log(record, commit=self.commit)

    def close(self) -> None:
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
        super().close()
