"""Hooks that change a one-stage model's training at set epochs (MMPose's
``RTMOModeSwitchHook`` and ``YOLOXPoseModeSwitchHook``).

Epochs count from 0 and the hooks act in ``before_train_epoch``, that is
before the first batch of the epoch they name. They change the runner's
model, unwrapped from DistributedDataParallel or ``torch.compile`` (its
``.module``); the averaged copy of :class:`EMAHook` is left as it is: it
only predicts, and what the hooks switch (loss weights, target options,
the auxiliary loss) is used in training only.

Resuming differs from MMPose on purpose. MMPose switches only when the
epoch about to start equals the configured one, so a run resumed after it
silently goes back to the first mode (its checkpoints store none of these
attributes). Here the first epoch of a run applies every switch whose
epoch has passed, in epoch order, so a resumed run continues in the mode
the interrupted one was in.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from posekit.registry import HOOKS
from ..dist import unwrap_model
from .hook import Hook
from .runtime_hooks import switch_train_data


def set_nested_attr(obj: Any, path: str, value: Any) -> Any:
    """Set ``obj.a.b.c = value`` for ``path='a.b.c'``; returns the old value.

    Raises:
        AttributeError: naming the part of ``path`` that does not exist
            (a misspelt name must not create a new, unused attribute).
    """
    *parents, last = path.split('.')
    for i, name in enumerate(parents):
        if not hasattr(obj, name):
            raise AttributeError(f'{type(obj).__name__} has no attribute {name!r} '
                                 f'(in {".".join(parents[:i + 1])!r} of {path!r})')
        obj = getattr(obj, name)
    if not hasattr(obj, last):
        raise AttributeError(f'{type(obj).__name__} has no attribute {last!r} '
                             f'(the end of {path!r})')
    old = getattr(obj, last)
    setattr(obj, last, value)
    return old


def _head(runner, hook: str) -> Any:
    model = unwrap_model(runner.model)
    head = getattr(model, 'head', None)
    if head is None:
        raise AttributeError(f'{hook} changes the model\'s head, but '
                             f'{type(model).__name__} has no "head"')
    return head


@HOOKS.register_module()
class RTMOModeSwitchHook(Hook):
    """Set attributes of the model's head at the start of given epochs.

    RTMO's configs raise loss weights and turn on ``proxy_target_cc`` at
    epoch 280, together with the lr bump of their ``ConstantLR``.

    Args:
        epoch_attributes (dict[int, dict[str, Any]]): ``{epoch: {path:
            value}}``: before epoch ``epoch`` (from 0), ``head.<path> =
            value``, where ``path`` is dotted (``'loss_oks.loss_weight'``)
            and must name an existing attribute.
    """

    def __init__(self, epoch_attributes: Mapping[int, Mapping[str, Any]]) -> None:
        if not isinstance(epoch_attributes, Mapping):
            raise TypeError('RTMOModeSwitchHook: epoch_attributes must be a dict '
                            f'{{epoch: {{attribute: value}}}}, got {epoch_attributes!r}')
        self.epoch_attributes: dict[int, dict[str, Any]] = {}
        for epoch, attributes in epoch_attributes.items():
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise ValueError('RTMOModeSwitchHook: epoch_attributes keys are '
                                 f'epochs (ints >= 0), got {epoch!r}')
            if not isinstance(attributes, Mapping):
                raise TypeError(f'RTMOModeSwitchHook: epoch_attributes[{epoch}] must '
                                f'be a dict {{attribute: value}}, got {attributes!r}')
            self.epoch_attributes[epoch] = dict(attributes)
        self._first_epoch = True

    def before_train_epoch(self, runner):
        epoch = runner.epoch
        # the first epoch of a (resumed) run also applies the switches it missed
        due = sorted(e for e in self.epoch_attributes
                     if e == epoch or (self._first_epoch and e < epoch))
        self._first_epoch = False
        if not due:
            return
        head = _head(runner, 'RTMOModeSwitchHook')
        for e in due:
            for path, value in self.epoch_attributes[e].items():
                old = set_nested_attr(head, path, value)
                runner.logger.info('RTMOModeSwitchHook: head.%s: %r -> %r (from epoch %d)',
                                   path, old, value, e + 1)


@HOOKS.register_module()
class YOLOXPoseModeSwitchHook(Hook):
    """For the last epochs: a new training pipeline (no Mosaic / MixUp) or
    dataset, and the head's auxiliary L1 box loss on.

    The switch happens before epoch ``max_epochs - num_last_epochs - 1``
    (from 0), as in MMPose (whose test is ``epoch + 1 == max_epochs -
    num_last_epochs``): ``num_last_epochs + 1`` epochs run switched.

    Args:
        num_last_epochs (int): See above. Defaults to 20.
        new_train_dataset (dict, optional): A dataset config replacing the
            training dataset (body7 configs end on COCO alone); the loader
            is rebuilt from ``train_dataloader`` with it.
        new_train_pipeline (list[dict], optional): The new transforms (of
            ``new_train_dataset`` when given, replacing its own pipeline).

    Without either, only the auxiliary loss is switched on. The head must
    have a ``use_aux_loss`` attribute (YOLOXPoseHead, RTMOHead).
    """

    def __init__(self, num_last_epochs: int = 20, new_train_dataset: Mapping | None = None,
                 new_train_pipeline: Sequence[Any] | None = None) -> None:
        if isinstance(num_last_epochs, bool) or not isinstance(num_last_epochs, int) \
                or num_last_epochs < 0:
            raise ValueError('YOLOXPoseModeSwitchHook: num_last_epochs must be an '
                             f'int >= 0, got {num_last_epochs!r}')
        if new_train_dataset is not None and not isinstance(new_train_dataset, Mapping):
            raise TypeError('YOLOXPoseModeSwitchHook: new_train_dataset must be a '
                            f'dataset config dict, got {type(new_train_dataset).__name__}')
        self.num_last_epochs = num_last_epochs
        self.new_train_dataset = new_train_dataset
        self.new_train_pipeline = (None if new_train_pipeline is None
                                   else list(new_train_pipeline))
        self._switched = False

    def switch_epoch(self, runner) -> int:
        """The epoch (from 0) before which the hook switches."""
        return runner.max_epochs - self.num_last_epochs - 1

    def before_train(self, runner):
        if self.switch_epoch(runner) < 0:
            raise ValueError(f'YOLOXPoseModeSwitchHook: num_last_epochs={self.num_last_epochs} '
                             f'would switch before epoch {self.switch_epoch(runner)} '
                             f'(max_epochs={runner.max_epochs}); it must be < max_epochs')

    def before_train_epoch(self, runner):
        if self._switched or runner.epoch < self.switch_epoch(runner):
            return
        head = _head(runner, 'YOLOXPoseModeSwitchHook')
        if not hasattr(head, 'use_aux_loss'):
            raise AttributeError('YOLOXPoseModeSwitchHook turns on the head\'s '
                                 f'use_aux_loss, which {type(head).__name__} does not have')
        if self.new_train_dataset is not None or self.new_train_pipeline is not None:
            switch_train_data(runner, pipeline=self.new_train_pipeline,
                              dataset=self.new_train_dataset)
        head.use_aux_loss = True
        self._switched = True
        changed = [what for what, given in (('training dataset', self.new_train_dataset),
                                            ('training pipeline', self.new_train_pipeline))
                   if given is not None]
        runner.logger.info('YOLOXPoseModeSwitchHook: from epoch %d on: %s', runner.epoch + 1,
                           ', '.join([f'new {what}' for what in changed]
                                     + ['auxiliary L1 box loss on']))
