"""``posekit plot-log``: curves of a hand-made scalars.json, read back as pixels."""
import json
import os

import cv2
import numpy as np
import pytest

from posekit.cli import main
from posekit.commands.plot_log import eval_positions
from posekit.visualization.curves import (EVAL_COLOR, MAX_COLUMNS, PANEL_SIZE, PLOT_BOX,
                                          TITLE_HEIGHT, TRAIN_COLOR, format_tick, nice_ticks)


def write_run(work_dir, name='20240101_000000', epochs=3, per_epoch=10, nan_at=None):
    """Train records every 5 iterations (step = iteration), one validation
    record per epoch (step = epoch), as the LoggerHook writes them."""
    folder = work_dir / name / 'vis_data'
    folder.mkdir(parents=True)
    lines, it = [], 0
    for epoch in range(1, epochs + 1):
        for _ in range(per_epoch):
            it += 1
            if it % 5 == 0:
                loss = float('nan') if it == nan_at else 1.0 / it
                lines.append(dict(lr=0.01, loss=loss, loss_kpt=0.5 / it, time=0.2,
                                  data_time=0.1, epoch=epoch, iter=it, step=it))
        lines.append({'coco/AP': 0.2 * epoch, 'PCK': 0.1 + 0.1 * epoch, 'time': 0.05,
                      'data_time': 0.01, 'step': epoch})
    path = folder / 'scalars.json'
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines))
    return path


def panel(picture, index, columns):
    width, height = PANEL_SIZE
    top, left = TITLE_HEIGHT + (index // columns) * height, (index % columns) * width
    x0, y0, x1, y1 = PLOT_BOX
    return picture[top + y0 + 1:top + y1, left + x0 + 1:left + x1]   # inside the frame


def count(area, rgb):
    return int((np.abs(area.astype(int) - rgb).sum(-1) <= 30).sum())


def test_default_keys_one_panel_each(tmp_path, capsys):
    write_run(tmp_path)
    assert main(['plot-log', str(tmp_path)]) == 0
    assert 'plot-log: 5 curves' in capsys.readouterr().out
    picture = cv2.imread(str(tmp_path / 'curves.png'))[..., ::-1]
    # lr, loss, loss_kpt, coco/AP, PCK: 3 columns, 2 rows
    assert picture.shape == (TITLE_HEIGHT + 2 * PANEL_SIZE[1], 3 * PANEL_SIZE[0], 3)
    for i in range(3):
        area = panel(picture, i, MAX_COLUMNS)
        assert count(area, TRAIN_COLOR) > 100 and count(area, EVAL_COLOR) == 0, i
    for i in (3, 4):
        area = panel(picture, i, MAX_COLUMNS)
        assert count(area, EVAL_COLOR) > 100 and count(area, TRAIN_COLOR) == 0, i
    assert count(panel(picture, 5, MAX_COLUMNS), (255, 255, 255)) == \
        panel(picture, 5, MAX_COLUMNS).shape[0] * panel(picture, 5, MAX_COLUMNS).shape[1]


def test_chosen_keys_file_argument_and_out(tmp_path):
    path = write_run(tmp_path)
    out = tmp_path / 'plots' / 'c.png'
    assert main(['plot-log', str(path), '--keys', 'coco/AP', 'time', '--out', str(out)]) == 0
    picture = cv2.imread(str(out))[..., ::-1]
    assert picture.shape == (TITLE_HEIGHT + PANEL_SIZE[1], 2 * PANEL_SIZE[0], 3)
    time_panel = panel(picture, 1, 2)                    # train and validation times
    assert count(time_panel, TRAIN_COLOR) > 100 and count(time_panel, EVAL_COLOR) > 100


def test_the_newest_run_is_read(tmp_path, capsys):
    old = write_run(tmp_path, '20240101_000000')
    new = write_run(tmp_path, '20240102_000000', epochs=1)
    os.utime(old, (1, 1))
    assert main(['plot-log', str(tmp_path), '--keys', 'loss']) == 0
    assert str(new) in capsys.readouterr().out
    # a newer posekit test run (metrics only) does not hide the training run
    test_run = tmp_path / '20240103_000000' / 'vis_data'
    test_run.mkdir(parents=True)
    (test_run / 'scalars.json').write_text(json.dumps({'coco/AP': 0.5, 'step': 0}) + '\n')
    assert main(['plot-log', str(tmp_path)]) == 0
    assert str(new) in capsys.readouterr().out
    assert main(['plot-log', str(test_run / 'scalars.json'), '--out',
                 str(tmp_path / 'test.png')]) == 0
    assert 'plot-log: 1 curves' in capsys.readouterr().out


def test_validation_points_sit_at_the_end_of_their_epoch():
    train = [dict(epoch=1, iter=5, step=5), dict(epoch=1, iter=10, step=10),
             dict(epoch=2, iter=15, step=15)]
    evals = [dict(step=1), dict(step=2)]
    assert eval_positions(train, evals) == [10, 20]
    # evaluation steps that cannot be epochs are iterations already
    assert eval_positions(train, [dict(step=100)]) == [100]
    assert eval_positions([], evals) == [1, 2]


def test_non_finite_values_leave_a_gap(tmp_path):
    write_run(tmp_path, nan_at=15)
    assert main(['plot-log', str(tmp_path), '--keys', 'loss']) == 0
    picture = cv2.imread(str(tmp_path / 'curves.png'))[..., ::-1]
    area = panel(picture, 0, 1)
    columns = [count(area[:, x:x + 1], TRAIN_COLOR) for x in range(area.shape[1])]
    # x from 5 to 30: iterations 10 and 20 are at 1/5 and 3/5 of the axis
    x10, x20 = (np.array([10, 20]) - 5) / 25 * (PLOT_BOX[2] - PLOT_BOX[0]) - 1
    gap = columns[int(x10) + 4:int(x20) - 4]
    assert sum(columns[:int(x10)]) > 0 and sum(gap) == 0


def test_errors_are_one_line(tmp_path, capsys):
    assert main(['plot-log', str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert 'no vis_data/scalars.json under' in err and 'Traceback' not in err
    assert main(['plot-log', str(tmp_path / 'missing')]) == 1
    assert 'does not exist' in capsys.readouterr().err
    write_run(tmp_path)
    assert main(['plot-log', str(tmp_path), '--keys', 'loss', 'mAP']) == 1
    err = capsys.readouterr().err
    assert "unknown key(s) 'mAP'" in err and 'available: lr, loss, loss_kpt' in err


@pytest.mark.parametrize('lo,hi,ticks', [
    (0.13, 0.92, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (5, 30, [5, 10, 15, 20, 25, 30]),
    (2, 2, [1.8, 1.9, 2.0, 2.1, 2.2]),
])
def test_nice_ticks(lo, hi, ticks):
    low, high, got = nice_ticks(lo, hi)
    assert got == pytest.approx(ticks) and (low, high) == pytest.approx((ticks[0], ticks[-1]))


def test_tick_labels():
    assert [format_tick(v, 0.25) for v in (0.25, 0.5)] == ['0.25', '0.50']
    assert format_tick(20, 5) == '20' and format_tick(0.0004, 0.0001) == '4.00e-4'


def test_train_time_is_mmposes_cal_train_time(tmp_path, capsys):
    """Per epoch the mean of its logged times without the first one; the
    slowest and fastest epoch, the std of the epoch means and the mean of
    every counted value (MMPose's analyze_logs.py cal_train_time)."""
    from posekit.commands.plot_log import train_time
    times = {1: [9.0, 0.2, 0.4], 2: [5.0, 0.3, 0.3], 3: [7.0, 0.1, 0.2]}
    train = [dict(epoch=e, iter=i, step=i, time=t)
             for e, ts in times.items() for i, t in enumerate(ts)]
    stats = train_time(train)
    means = [0.3, 0.3, 0.15]
    assert (stats['slowest_epoch'], stats['fastest_epoch']) == (1, 3)
    assert stats['slowest_time'] == pytest.approx(0.3) and stats['fastest_time'] == pytest.approx(0.15)
    assert stats['std'] == pytest.approx(np.std(means))
    assert stats['mean'] == pytest.approx(np.mean([0.2, 0.4, 0.3, 0.3, 0.1, 0.2]))
    assert train_time(train, include_outliers=True)['mean'] == pytest.approx(
        np.mean([t for ts in times.values() for t in ts]))
    with pytest.raises(ValueError, match='--include-outliers'):
        train_time([dict(epoch=1, iter=1, step=1, time=0.5)])
    # the command prints them after drawing
    write_run(tmp_path)
    assert main(['plot-log', str(tmp_path), '--train-time']) == 0
    printed = capsys.readouterr().out
    assert 'average iter time: 0.2000 s/iter' in printed and 'time std over epochs is 0.0000' in printed
