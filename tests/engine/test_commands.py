"""``posekit train`` / ``posekit test`` and what the runner does with config keys."""
from __future__ import annotations

import argparse
import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest

from posekit.cli import main
from posekit.commands import train as train_cmd
from posekit.engine import Runner

from .conftest import ROOT, TINY_CONFIG


def _args(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_train_flags_map_onto_the_config():
    from posekit.config import Config
    cfg = Config.fromfile(TINY_CONFIG)
    args = _args(train_cmd, [str(TINY_CONFIG), '--amp', '--auto-scale-lr', '--resume',
                             '--no-validate', '--cfg-options', 'train_cfg.max_epochs=7'])
    train_cmd.merge_args(cfg, args)
    assert cfg.work_dir == str(Path('work_dirs') / 'td-hm_tiny_synthetic')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.auto_scale_lr.enable is True
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.val_cfg is None and cfg.val_dataloader is None and cfg.val_evaluator is None
    assert cfg.train_cfg.max_epochs == 7 and cfg.launcher == 'none'
    cfg = Config.fromfile(TINY_CONFIG)
    train_cmd.merge_args(cfg, _args(train_cmd, [str(TINY_CONFIG), '--resume', 'x.pth',
                                                '--work-dir', 'w', '--show-dir', 'vis']))
    assert (cfg.resume, cfg.load_from, cfg.work_dir) == (True, 'x.pth', 'w')
    assert cfg.default_hooks.visualization.enable is True
    assert cfg.default_hooks.visualization.out_dir == 'vis'


def test_decoded_cache_flag_reaches_every_load_image(tiny_cfg, tmp_path):
    """--decoded-cache sets LoadImage's decoded_cache in the train, val and
    test pipelines; training through it stores each image once."""
    from posekit.config import Config
    cfg = tiny_cfg(**{'train_cfg.max_epochs': 1})
    cache = tmp_path / 'decoded'
    train_cmd.merge_args(cfg, _args(train_cmd, [str(TINY_CONFIG), '--decoded-cache', str(cache),
                                                '--work-dir', str(tmp_path / 'w')]))
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.pipeline[0] == dict(type='LoadImage', decoded_cache=str(cache))
    Runner.from_cfg(cfg).train()
    root = Path(cfg.train_dataloader.dataset.data_root)   # train + val images: 20
    images = [p for p in root.rglob('*') if p.suffix in ('.jpg', '.png')]
    assert len(images) == 20
    assert len(list(cache.glob('*/*.npy'))) == len(images)   # one file per image
    bare = Config(dict(train_dataloader=dict(dataset=dict(pipeline=[dict(type='Resize')]))))
    with pytest.raises(ValueError, match='no LoadImage'):
        train_cmd.set_decoded_cache(bare, str(cache))


def test_train_then_test_from_the_command_line(tiny_cfg, tmp_path, capsys):
    cfg = tiny_cfg(**{'train_cfg.max_epochs': 1})
    config = tmp_path / 'tiny.py'
    cfg.dump(config)
    assert main(['train', str(config), '--work-dir', str(tmp_path / 'w')]) == 0
    ckpt = tmp_path / 'w' / 'epoch_1.pth'
    out, dump = tmp_path / 'metrics.json', tmp_path / 'preds.pkl'
    capsys.readouterr()
    assert main(['test', str(config), str(ckpt), '--work-dir', str(tmp_path / 't'),
                 '--out', str(out), '--dump', str(dump), '--show-dir', 'vis']) == 0
    printed = capsys.readouterr().out
    assert 'coco/AP:' in printed and 'PCK:' in printed
    metrics = json.loads(out.read_text())
    assert set(metrics) >= {'coco/AP', 'coco/AR', 'PCK'}
    preds = pickle.loads(dump.read_bytes())
    assert len(preds) == 8 and preds[0]['pred_instances']['keypoints'].shape == (1, 17, 2)
    pictures = list((tmp_path / 't').glob('*/vis/*.jpg'))
    assert len(pictures) == 4  # one per val image, all its figures drawn


def test_bad_input_is_one_line_not_a_traceback(tmp_path, capsys):
    assert main(['test', str(TINY_CONFIG), str(tmp_path / 'missing.pth'),
                 '--work-dir', str(tmp_path), '--out', 'm.txt']) == 1
    assert 'use a .json / .pkl / .pickle file' in capsys.readouterr().err


def test_legacy_keys_are_reported(tiny_cfg, caplog):
    cfg = tiny_cfg()
    cfg.fp16 = dict(loss_scale='dynamic')
    cfg.lr_config = dict(policy='step')
    with caplog.at_level(logging.WARNING, logger='posekit'):
        Runner.from_cfg(cfg)
    text = caplog.text
    assert "'fp16' is an MMPose 0.x setting" in text and '--amp' in text
    assert "'lr_config'" in text and 'param_scheduler' in text


@pytest.mark.parametrize('key,value,error', [
    ('env_cfg.cudnn_benchmak', True, "env_cfg: unknown keys \\['cudnn_benchmak'\\]"),
    ('log_processor.window', 5, 'unexpected keyword argument'),
    ('visualizer.vis_backends', [dict(type='WandbVisBackend')], 'pip install wandb'),
    ('visualizer.vis_backends', [dict(type='MLflowVisBackend')], 'not registered in VISBACKENDS'),
    ('visualizer.backend', 'matplotlib', 'OpenCV only'),
    ('randomness.sead', 1, 'unexpected keyword argument'),
    ('default_hooks.badcase.metric_type', 'oks', "metric_type must be 'loss' or"),
    ('model_wrapper_cfg', dict(type='MMFullyShardedDataParallel'), 'not supported'),
])
def test_bad_runtime_keys_raise(tiny_cfg, key, value, error):
    cfg = tiny_cfg()
    cfg.merge_from_dict({key: value}, allow_new_keys=True)
    with pytest.raises(Exception, match=error):
        Runner.from_cfg(cfg)


def test_partial_validation_config_raises(tiny_cfg):
    cfg = tiny_cfg()
    cfg.val_evaluator = None
    with pytest.raises(ValueError, match='missing: val_evaluator'):
        Runner.from_cfg(cfg)


def test_loop_arguments_are_checked(tiny_cfg):
    runner = Runner.from_cfg(tiny_cfg(**{'+train_cfg.val_intervall': 2}))
    with pytest.raises(TypeError, match='val_intervall'):
        runner.train()


def test_mmpose_res50_config_runs_on_the_coco_fixture(tmp_path, run_log):
    """MMPose's td-hm_res50_8xb64-210e_coco-256x192 (as shipped in configs/),
    pointed at the 4-image COCO fixture: one training iteration, one
    validation pass, no warning about an ignored key."""
    fixture = ROOT / 'tests' / 'data' / 'fixtures' / 'coco'
    config = ROOT / 'configs' / 'body_2d_keypoint' / 'topdown_heatmap' / 'coco' / \
        'td-hm_res50_8xb64-210e_coco-256x192.py'
    options = [f'train_dataloader.dataset.data_root={fixture}/',
               'train_dataloader.dataset.ann_file=test_coco.json',
               'train_dataloader.dataset.data_prefix.img=',
               f'val_dataloader.dataset.data_root={fixture}/',
               'val_dataloader.dataset.ann_file=test_coco.json',
               'val_dataloader.dataset.data_prefix.img=',
               'val_dataloader.dataset.bbox_file=None',
               f'val_evaluator.ann_file={fixture}/test_coco.json',
               'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
               'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
               '+train_dataloader.num_batch_per_epoch=1',
               '+val_dataloader.num_batch_per_epoch=1',
               'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
               'model.backbone.init_cfg=None']   # no ImageNet download here
    assert main(['train', str(config), '--work-dir', str(tmp_path),
                 '--cfg-options', *options]) == 0
    assert (tmp_path / 'epoch_1.pth').is_file()
    assert 'Epoch(train) [1][1/1]' in run_log.text and 'Epoch(val) [1][1/1]' in run_log.text
    warnings = [r.getMessage() for r in run_log.records if r.levelno >= logging.WARNING]
    assert not warnings, warnings


def test_syncbn_runs_as_batchnorm_in_one_process(tiny_cfg, run_log):
    cfg = tiny_cfg(**{'model.backbone': dict(norm_cfg=dict(type='SyncBN'))})
    runner = Runner.from_cfg(cfg)
    import torch
    kinds = {type(m) for m in runner.model.modules()}
    assert torch.nn.SyncBatchNorm not in kinds and torch.nn.BatchNorm2d in kinds
    assert 'SyncBatchNorm cannot run in a single process' in run_log.text


def test_quickstart_config_trains_and_evaluates(synthetic_root, tmp_path):
    """The main job's config (tools/quickstart.sh), cut to one step."""
    from posekit.config import Config
    from .conftest import point_at
    config = ROOT / 'configs' / 'body_2d_keypoint' / 'topdown_heatmap' / 'synthetic' / \
        'td-hm_hrnet-tiny_1xb8-9e_synthetic-128x96.py'
    cfg = Config.fromfile(config)
    point_at(cfg, synthetic_root)
    cfg.work_dir = str(tmp_path)
    cfg.merge_from_dict({'train_cfg.max_epochs': 1, 'train_dataloader.batch_size': 4,
                         '+train_dataloader.num_batch_per_epoch': 2})
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert {'coco/AP', 'PCK'} <= set(metrics)
    assert (tmp_path / 'epoch_1.pth').is_file()


def _seeded_checkpoint(cfg, path: Path) -> Path:
    """Seeded weights, batch norms given spread: distinct heatmap peaks per box."""
    import torch
    from posekit.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
            m.bias.data.normal_(0, 0.2)
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def _test_run(config: Path, weights, work: Path, *options) -> tuple[dict, list]:
    """Metrics and predictions of ``posekit test``."""
    out, dump = work / 'metrics.json', work / 'preds.pkl'
    assert main(['test', str(config), str(weights), '--work-dir', str(work), '--out', str(out),
                 '--dump', str(dump), *options]) == 0
    return json.loads(out.read_text()), [p['pred_instances']
                                         for p in pickle.loads(dump.read_bytes())]


def _assert_same_predictions(got: list, expected: list) -> None:
    """Outputs equal up to float32 rounding: the scores (heatmap maxima) to
    1e-4 of the largest; keypoints where no near tie of a heatmap decides."""
    assert len(got) == len(expected) == 8
    scores = np.stack([p['keypoint_scores'] for p in expected])
    np.testing.assert_allclose(np.stack([p['keypoint_scores'] for p in got]), scores,
                               rtol=0, atol=1e-4 * scores.max())
    moved = np.abs(np.stack([p['keypoints'] for p in got])
                   - np.stack([p['keypoints'] for p in expected])).max(-1)
    assert (moved < 1e-3).mean() >= 0.9, moved


def test_test_runs_an_onnx_file_like_its_checkpoint(tiny_cfg, tmp_path, caplog):
    """``posekit test CONFIG model.onnx``: the exported network in ONNX
    Runtime, the rest (data, flip test, decoding, metrics, dump, pictures)
    as for the checkpoint. No torch weights are loaded then, so predictions
    equal to the checkpoint's show that the file ran."""
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxscript')
    from posekit.export import export_onnx
    cfg = tiny_cfg()
    cfg.custom_hooks = [dict(type='EMAHook')]   # swaps weights in: not for a file
    config = tmp_path / 'tiny.py'
    cfg.dump(config)
    ckpt = _seeded_checkpoint(cfg, tmp_path / 'tiny.pth')
    onnx_file = export_onnx(str(config), str(ckpt), output=tmp_path / 'tiny.onnx',
                            dynamic_batch=True)
    metrics, expected = _test_run(config, ckpt, tmp_path / 'pth')
    with caplog.at_level(logging.INFO, logger='posekit'):
        onnx_metrics, got = _test_run(config, onnx_file, tmp_path / 'onnx', '--show-dir', 'vis')
    assert 'in ONNX Runtime (cpu); not applied: EMAHook' in caplog.text
    assert set(onnx_metrics) == set(metrics) >= {'coco/AP', 'PCK'}
    _assert_same_predictions(got, expected)
    assert len(list((tmp_path / 'onnx').glob('*/vis/*.jpg'))) == 4


def test_test_precision_fp32_folds_the_batch_norms(tiny_cfg, tmp_path, run_log):
    cfg = tiny_cfg()
    config = tmp_path / 'tiny.py'
    cfg.dump(config)
    ckpt = _seeded_checkpoint(cfg, tmp_path / 'tiny.pth')
    _, expected = _test_run(config, ckpt, tmp_path / 'plain')
    _, got = _test_run(config, ckpt, tmp_path / 'fp32', '--precision', 'fp32')
    assert 'model optimized for inference: precision fp32' in run_log.text
    _assert_same_predictions(got, expected)


def test_test_refuses_what_an_onnx_file_cannot_do(tiny_cfg, tmp_path, capsys):
    config = tmp_path / 'tiny.py'
    tiny_cfg().dump(config)
    assert main(['test', str(config), str(tmp_path / 'model.onnx'), '--work-dir',
                 str(tmp_path), '--precision', 'bf16']) == 1
    assert 'runs at the precision it was exported with' in capsys.readouterr().err
    assert main(['test', str(config), str(tmp_path / 'model.onnx'), '--work-dir',
                 str(tmp_path)]) == 1
    assert 'model.onnx: no such file' in capsys.readouterr().err


def test_badcase_draws_and_lists_the_instances_scoring_worst(tiny_cfg, tmp_path):
    """``--badcase``: the head's loss (KeypointMSELoss) between predicted and
    annotated keypoints, in image pixels, visible keypoints only; each
    instance scoring >= badcase_thr drawn and listed in results.json."""
    cfg = tiny_cfg()
    config = tmp_path / 'tiny.py'
    cfg.dump(config)
    ckpt = _seeded_checkpoint(cfg, tmp_path / 'tiny.pth')
    _, preds = _test_run(config, ckpt, tmp_path / 'plain')
    dumped = pickle.loads((tmp_path / 'plain' / 'preds.pkl').read_bytes())
    losses = []   # the mean over all coordinates of the masked squared error
    for sample in dumped:
        gt = sample['gt_instances']
        error = (sample['pred_instances']['keypoints'] - gt['keypoints']) ** 2
        losses.append(float((error * gt['keypoints_visible'][..., None]).mean()))
    thr = float(np.median(losses))   # half of the 8 instances are bad
    _test_run(config, ckpt, tmp_path / 'bad', '--badcase', '--cfg-options',
              f'default_hooks.badcase.badcase_thr={thr!r}')
    folder, = (tmp_path / 'bad').glob('*/badcase')
    listed = json.loads((folder / 'results.json').read_text())
    bad = sorted(v for v in losses if v >= thr)
    assert len(listed) == len(bad) >= 4
    np.testing.assert_allclose(sorted(r['KeypointMSELoss'] for r in listed), bad, rtol=1e-5)
    pictures = sorted(p.name for p in folder.glob('*.jpg'))
    assert len(pictures) == len(bad)
    for record in listed:
        name = (f"{record['img']}_bbox{record['bbox']}_KeypointMSELoss"
                f"{round(record['KeypointMSELoss'], 2)}.jpg")
        assert name in pictures
