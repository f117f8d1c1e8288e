"""``posekit models [--task T] [--search TEXT] [--json]``: MMPose's model zoo.

One row per model of the index (:mod:`posekit.apis.zoo`): name, task, input
size (w x h pixels), the dataset its published result is on, that result's
headline metric, and aliases. Any name or alias runs with
``posekit infer IMAGE --pose2d NAME``.
"""
from __future__ import annotations

import argparse
import json

from posekit.apis.zoo import TASKS, list_models

# the metric a row shows: the first of these the published result has
_HEADLINE = ('AP', 'Whole AP', 'PCK@0.2', 'PCK@0.1', 'PCKh', 'PCK', 'Mean', 'Total', 'NME',
             'MPJPE', 'EPE', 'AUC')
_COLUMNS = ('name', 'task', 'input', 'dataset', 'metric', 'aliases')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--task', choices=TASKS, help='only models of this task')
    parser.add_argument('--search', metavar='TEXT',
                        help='only models whose name, config, alias or training data '
                             'contains TEXT (any case)')
    parser.add_argument('--json', action='store_true',
                        help='print the index entries as JSON instead of a table')


def headline(entry: dict) -> str:
    """``'AP 0.749'``: the first published result's main metric ('' if none)."""
    for result in entry['results']:
        metrics = result['metrics']
        for key in _HEADLINE:
            if key in metrics:
                return f'{key} {metrics[key]}'
        if metrics:
            key = next(iter(metrics))
            return f'{key} {metrics[key]}'
    return ''


def row(entry: dict) -> tuple[str, ...]:
    """The table cells of one index entry, in ``_COLUMNS`` order."""
    size = entry['input_size']
    datasets = [r['dataset'] for r in entry['results'] if r.get('dataset')]
    dataset = datasets[0] if datasets else ','.join(entry['training_data'])
    # height x width, as MMPose's model names write it (input_size is [w, h])
    return (entry['name'], entry['task'], f'{size[1]}x{size[0]}' if size else '-',
            dataset or '-', headline(entry) or '-', ','.join(entry['aliases']))


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell; a header line first."""
    table = [tuple(c.upper() for c in _COLUMNS)] + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(_COLUMNS))]
    return '\n'.join('  '.join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip()
                     for r in table)


def run(args: argparse.Namespace) -> int:
    entries = list_models(task=args.task, search=args.search)
    if args.json:
        print(json.dumps(entries, indent=1))
        return 0
    print(format_table([row(e) for e in entries]))
    print(f'{len(entries)} models')
    return 0
