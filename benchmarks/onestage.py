"""One-stage ``inference_bottomup`` speed against MMPose 1.3.2: RTMO, YOLOX-Pose.

MMPose's own COCO configs, RTMO-s 640x640 (default) and, with ``--models``,
YOLOX-Pose-s 640 (``model.backbone.init_cfg=None``: nothing downloads), on
one photo of a crowd (``tests/data/fixtures/posetrack18/images/val/
012834_mpii_test/000000.jpg``, 1920x1080, 11 annotated people), seconds per
image (and images/s), best of ``--rounds`` rounds, ``--threads`` CPU threads
(``torch.set_num_threads`` on both sides, ONNX Runtime's intra-op threads).

Same weights on both sides: posekit builds each model with seeded PyTorch
default weights and gives every BatchNorm real statistics: momentum None
(cumulative average) after ``reset_running_stats``, train-mode forwards on
the pipeline's input, its mirror and its vertical flip, then the momentum
restored (these configs use 0.03: left at that, one forward barely moves
the statistics and every score saturates at 1.0). RTMO's DCC BatchNorm1d
(run only on selected people, not by ``mode='tensor'``) gets the statistics
of the pose vectors of every prior. The state_dict is saved; the reference
loads it with ``strict=True``.

Score threshold (the only change to ``test_cfg``, the same on both sides):
a random model's scores have no meaning, so ``score_thr`` is chosen from
the calibrated model's own scores on the image to keep ``PEOPLE`` (20)
people: halfway between the scores of the 20th and 21st people that NMS
keeps at a threshold of 0 (greedy NMS keeps, among the top n candidates,
exactly the kept people of the full run that are among them, so that
threshold keeps 20). Halfway keeps it far from both, so float differences
between the sides cannot move a person across it. ``nms_thr`` stays the
config's (0.65).

Rows, per model (posekit PyTorch, posekit ONNX Runtime, MMPose PyTorch):

- ``end-to-end``: ``inference_bottomup(model, img)`` (pipeline, network,
  decoding, NMS, mapping to the image). ONNX: ``posekit.export.export_onnx``
  of the calibrated model to a temporary file, then
  ``posekit.apis.init_onnx_model`` (same config and score_thr).
- ``network``: ``model(x, None, mode='tensor')`` on the pipeline's
  preprocessed input (backbone, neck, head layers). ONNX: the session run,
  whose graph also decodes every prior (boxes, scores and, for RTMO, the
  DCC keypoints of all priors; see ``posekit.models.onestage_deploy``).
- ``decode+NMS``: the head's ``predict`` with its ``forward`` replaced by
  one returning fixed raw outputs (computed and saved by posekit, loaded by
  both sides): score filter, NMS, box and keypoint decoding (RTMO: DCC on
  the kept people), i.e. everything after the layers; not the mapping to
  the image. ONNX: ``predict_decoded`` on the session's saved outputs
  (score filter, NMS, clipping: its decoding is in the graph, hence in its
  ``network`` row).
- ``decode share``: ``decode+NMS`` / ``end-to-end`` of each side.

Lines per model then compare the people found (count, largest box and
keypoint differences in image pixels, each person of posekit matched to the
nearest box of the other side): end to end, and by ``decode+NMS`` (MMPose:
from the same fixed raw outputs, so any difference is the decoding's; ONNX:
from its own session outputs on the same input), and the largest difference
of MMPose's raw network outputs from posekit's. Expect keypoints to differ
by pixels end to end while boxes agree to ~0.01 px: the random model's DCC
heatmaps are sharp, so keypoints amplify float noise in the pose vectors
(RTMO-s here: a perturbation of 1e-5 of the pose vectors' largest value
moves keypoints by 0.24 px of the 640x640 input, 1e-4 by 2.4 px).

The reference runs in its own interpreter in a subprocess (``import
reference_shims`` first, PYTHONPATH=/work/shared/reference); posekit never
imports MMPose. Both heads' NMS is pure PyTorch (no compiled op).

Usage::

    python benchmarks/onestage.py [--models rtmo-s yoloxpose-s] [--rounds 3]
                                  [--threads 2] [--ref-python PATH | --no-ref]
                                  [--no-onnx]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / 'tests/data/fixtures/posetrack18/images/val/012834_mpii_test/000000.jpg'
DEFAULT_REF_PYTHON = os.environ.get('POSEKIT_MMPOSE_PYTHON', '/tmp/mmpose-ref/bin/python')
REF_SHIMS = os.environ.get('POSEKIT_REFERENCE_SHIMS', '/work/shared/reference')
CONFIG_ROOT = Path(os.environ.get(
    'POSEKIT_MMPOSE_CONFIGS', '/tmp/mmpose-ref/lib/python3.11/site-packages/'
    'mmpose/.mim/configs/body_2d_keypoint'))
MODELS = {
    'rtmo-s': 'rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py',
    'yoloxpose-s': 'yoloxpose/coco/yoloxpose_s_8xb32-300e_coco-640.py',
}
NO_DOWNLOAD = {'model.backbone.init_cfg': None}  # a URL of pretrained weights
PEOPLE = 20  # people the chosen score_thr keeps on the image


def best_of(run, rounds: int) -> float:
    """Seconds per call of ``run()``: two warm-up calls, then ``rounds``
    rounds of enough calls to last ~0.5 s (at least 1); the fastest round."""
    run()  # first calls allocate, pick kernels, cache priors
    start = time.perf_counter()
    run()
    iters = max(1, min(50, int(0.5 / max(time.perf_counter() - start, 1e-6))))
    best = float('inf')
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iters):
            run()
        best = min(best, (time.perf_counter() - start) / iters)
    return best


def network_input(model, compose, img):
    """Preprocessed ``(1, 3, 640, 640)`` input and data samples of ``img``."""
    data = compose(model.cfg.test_dataloader.dataset.pipeline)(
        dict(img=img, **model.dataset_meta))
    batch = model.data_preprocessor(dict(inputs=[data['inputs']],
                                         data_samples=[data['data_samples']]), False)
    return batch['inputs'], batch['data_samples']


def fixed_forward_predict(model, raw, samples):
    """A no-argument call: ``model.head.predict`` with its ``forward``
    returning ``raw`` (the layers skipped; both libraries' heads call
    ``self.forward``)."""
    head = model.head

    def run():
        head.forward = lambda feats: raw
        try:
            return head.predict(None, samples, test_cfg=model.test_cfg)
        finally:
            del head.forward  # the class's method again
    return run


def people(instances) -> dict:
    """Boxes ``(N, 4)`` xyxy and keypoints ``(N, K, 2)`` as lists."""
    return dict(bboxes=np.asarray(instances.bboxes).tolist(),
                keypoints=np.asarray(instances.keypoints).tolist())


def measure(model, infer, compose, workdir: Path, name: str, rounds: int) -> dict:
    """The PyTorch timings of one model (its weights and score_thr set)."""
    import torch
    img = cv2.imread(str(IMAGE))
    x, samples = network_input(model, compose, img)
    raw = torch.load(workdir / f'{name}_raw.pt')
    decode = fixed_forward_predict(model, raw, samples)
    with torch.no_grad():
        own = model(x, None, mode='tensor')  # vs posekit's saved raw outputs
        net_diff = max(float((a - b).abs().max()) for mine, saved in zip(own, raw)
                       for a, b in zip(mine, saved))
        return dict(e2e=best_of(lambda: infer(model, img), rounds), net_diff=net_diff,
                    net=best_of(lambda: model(x, None, mode='tensor'), rounds),
                    decode=best_of(decode, rounds),
                    people=dict(e2e=people(infer(model, img)[0].pred_instances),
                                decode=people(decode()[0])))


# ------------------------------------------------------------------ posekit
def calibrate_batchnorm(model, x) -> None:
    """Every BatchNorm's running statistics = those of the batches below
    (see the module docstring); momentum restored afterwards."""
    import torch
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for batch in (x, x.flip(-1), x.flip(-2)):
            model(batch, None, mode='tensor')
        dcc = getattr(model.head, 'dcc', None)
        if dcc is not None:  # RTMO: pose vectors of all priors, (P, C)
            model.eval()
            pose_vecs = model(x, None, mode='tensor')[4]
            flat = torch.cat([p.flatten(2) for p in pose_vecs], 2).transpose(1, 2)
            dcc.pose_to_kpts.train()
            dcc.pose_to_kpts(flat.reshape(-1, flat.shape[-1]))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


def choose_score_thr(model, raw, samples) -> float:
    """The threshold that keeps ``PEOPLE`` people (module docstring)."""
    cfg = dict(model.test_cfg, score_thr=0.0, nms_pre=max(10 * PEOPLE, 200))
    saved, model.test_cfg = model.test_cfg, cfg
    try:
        scores = np.sort(np.asarray(fixed_forward_predict(model, raw, samples)()[0].scores))[::-1]
    finally:
        model.test_cfg = saved
    if len(scores) <= PEOPLE:
        raise RuntimeError(f'only {len(scores)} people at score_thr=0 (need {PEOPLE + 1})')
    return float(scores[PEOPLE - 1] + scores[PEOPLE]) / 2


def prepare_posekit(name: str, workdir: Path):
    """Build and calibrate the model, choose score_thr, save the weights,
    the fixed raw outputs and the test_cfg for the reference."""
    import torch
    from posekit.apis import init_model
    from posekit.datasets.transforms import Compose
    torch.manual_seed(0)
    model = init_model(str(CONFIG_ROOT / MODELS[name]), None, cfg_options=NO_DOWNLOAD)
    x, samples = network_input(model, Compose, cv2.imread(str(IMAGE)))
    calibrate_batchnorm(model, x)
    with torch.no_grad():
        raw = model(x, None, mode='tensor')
        raw = tuple([t.contiguous() for t in level] for level in raw)
        model.test_cfg['score_thr'] = choose_score_thr(model, raw, samples)
    torch.save(model.state_dict(), workdir / f'{name}.pth')
    torch.save(raw, workdir / f'{name}_raw.pt')
    (workdir / f'{name}_test_cfg.json').write_text(json.dumps(dict(model.test_cfg)))
    return model, Compose


def bench_onnx(name: str, model, workdir: Path, threads: int, rounds: int) -> dict:
    """Export ``model``, then time it through ONNX Runtime."""
    import torch
    from posekit.apis import inference_bottomup, init_onnx_model
    from posekit.datasets.transforms import Compose
    from posekit.export import export_onnx
    from posekit.models.onestage_deploy import predict_decoded
    onnx_file = export_onnx(model, output=workdir / f'{name}.onnx')
    options = {**NO_DOWNLOAD, 'model.test_cfg.score_thr': model.test_cfg['score_thr']}
    ort = init_onnx_model(str(CONFIG_ROOT / MODELS[name]), onnx_file,
                          cfg_options=options, num_threads=threads)
    img = cv2.imread(str(IMAGE))
    x, samples = network_input(ort, Compose, img)
    outputs = ort.network(x)
    decode = lambda: predict_decoded(ort.estimator.head, outputs, samples,  # noqa: E731
                                     ort.test_cfg)
    with torch.no_grad():
        return dict(e2e=best_of(lambda: inference_bottomup(ort, img), rounds),
                    net=best_of(lambda: ort.network(x), rounds),
                    decode=best_of(decode, rounds),
                    people=dict(e2e=people(inference_bottomup(ort, img)[0].pred_instances),
                                decode=people(decode()[0])))


def bench_posekit(name: str, workdir: Path, threads: int, rounds: int,
                  onnx: bool) -> tuple[dict, dict]:
    from posekit.apis import inference_bottomup
    model, compose = prepare_posekit(name, workdir)
    ours = measure(model, inference_bottomup, compose, workdir, name, rounds)
    return ours, bench_onnx(name, model, workdir, threads, rounds) if onnx else {}


# ----------------------------------------------------------------- MMPose
def bench_mmpose(name: str, workdir: Path, rounds: int) -> dict:
    import reference_shims  # noqa: F401  (stubs mmcv._ext, torchvision)
    import torch
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmpose.apis import inference_bottomup, init_model
    from mmpose.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(str(CONFIG_ROOT / MODELS[name]))
    test_cfg = json.loads((workdir / f'{name}_test_cfg.json').read_text())
    cfg.merge_from_dict({**NO_DOWNLOAD, 'model.test_cfg.score_thr': test_cfg['score_thr']})
    model = init_model(cfg, None, device='cpu')
    model.load_state_dict(torch.load(workdir / f'{name}.pth'), strict=True)
    return measure(model, inference_bottomup, Compose, workdir, name, rounds)


def run_reference(python: str, names: list[str], workdir: Path, threads: int,
                  rounds: int) -> dict:
    cmd = [python, __file__, '--impl', 'mmpose', '--workdir', str(workdir),
           '--threads', str(threads), '--rounds', str(rounds), '--models', *names]
    env = dict(os.environ, PYTHONPATH=REF_SHIMS)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode:
        print(f'reference run failed:\n{proc.stderr[-3000:]}', file=sys.stderr)
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report
def seconds(v) -> str:
    return f'{v:9.4f}' if v is not None else f'{"-":>9}'


def per_second(v) -> str:
    return f'{1 / v:8.2f}' if v else f'{"-":>8}'


def ratio(a, b) -> str:
    return f'{a / b:8.2f}x' if a is not None and b else f'{"-":>9}'


def compare(ours: dict, theirs: dict) -> str:
    """People count, largest box and keypoint differences (px) with each of
    ours matched to the other side's nearest box."""
    a_box, b_box = np.asarray(ours['bboxes']), np.asarray(theirs['bboxes'])
    head = f'{len(a_box)} vs {len(b_box)} people'
    if not len(a_box) or not len(b_box):
        return head
    a_kpt, b_kpt = np.asarray(ours['keypoints']), np.asarray(theirs['keypoints'])
    gap = np.abs(a_box[:, None] - b_box[None]).max(-1)
    match = gap.argmin(1)
    box = gap[np.arange(len(a_box)), match].max()
    kpt = np.abs(a_kpt - b_kpt[match]).max()
    return f'{head}, box {box:.2g} px, keypoints {kpt:.2g} px'


def report(name: str, ours: dict, onnx: dict, theirs: dict) -> None:
    for label, key in (('end-to-end', 'e2e'), ('network', 'net'), ('decode+NMS', 'decode')):
        a, o, b = ours[key], onnx.get(key), theirs.get(key)
        print(f'{name:<11} {label:<12} {seconds(a)} {seconds(o)} {seconds(b)} '
              f'{ratio(a, b)} {ratio(o, b)}   {per_second(a)} {per_second(o)} {per_second(b)}')
    shares = [f'{r["decode"] / r["e2e"]:9.1%}' if r else f'{"-":>9}'
              for r in (ours, onnx, theirs)]
    print(f'{name:<11} {"decode share":<12} {" ".join(shares)}')
    for other, label in ((onnx, 'ONNX'), (theirs, 'MMPose')):
        if other:
            print(f'{"":<11} posekit vs {label}: ' + '; '.join(
                f'{key}: {compare(ours["people"][key], other["people"][key])}'
                for key in ('e2e', 'decode')))
    if theirs:
        print(f'{"":<11} raw network outputs, posekit vs MMPose: max diff '
              f'{theirs["net_diff"]:.2g}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--models', nargs='+', default=['rtmo-s'], choices=list(MODELS))
    parser.add_argument('--impl', default='posekit', choices=('posekit', 'mmpose'))
    parser.add_argument('--workdir', help='(internal) files shared with the reference run')
    parser.add_argument('--ref-python', default=DEFAULT_REF_PYTHON)
    parser.add_argument('--no-ref', action='store_true')
    parser.add_argument('--no-onnx', action='store_true')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    if args.impl == 'mmpose':
        print(json.dumps({n: bench_mmpose(n, Path(args.workdir), args.rounds)
                          for n in args.models}))
        return
    with tempfile.TemporaryDirectory() as tmp:
        results = {n: bench_posekit(n, Path(tmp), args.threads, args.rounds, not args.no_onnx)
                   for n in args.models}
        ref = {}
        if not args.no_ref and os.path.exists(args.ref_python):
            ref = run_reference(args.ref_python, args.models, Path(tmp), args.threads,
                                args.rounds)
    print(f'inference_bottomup, {IMAGE.name} (1920x1080, crowd), {args.threads} threads, '
          f'score_thr keeping {PEOPLE} people; seconds per image, best of {args.rounds} '
          '(lower is better), then images/s')
    print(f'{"model":<11} {"stage":<12} {"posekit":>9} {"pk-ONNX":>9} {"MMPose":>9} '
          f'{"pk/MM":>9} {"ONNX/MM":>9}   {"pk/s":>8} {"ONNX/s":>8} {"MM/s":>8}')
    for name in args.models:
        ours, onnx = results[name]
        report(name, ours, onnx, ref.get(name, {}))


if __name__ == '__main__':
    main()
