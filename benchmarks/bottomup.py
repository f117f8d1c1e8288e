"""Bottom-up ``inference_bottomup`` speed against MMPose 1.3.2: AE, DEKR, CID.

MMPose's own HRNet-w32 COCO configs (AE, DEKR, CID; test_cfg as given, flip
test on), one image (``tests/data/fixtures/coco/000000197388.jpg``, 640x392),
seconds per image, best of 3 rounds, on 2 CPU threads. posekit builds each
model with seeded PyTorch-default weights, gives BatchNorm the image's
statistics (one train-mode forward) and saves the state_dict; the reference
loads that same state_dict, so both run identical weights. Measured:

- ``end-to-end``: ``inference_bottomup(model, img)`` (pipeline, network on
  the image and its mirror, decoding, mapping to the image).
- ``network``: ``model(x, None, mode='tensor')`` on the pipeline's input and
  its mirror. CID: backbone + neck (``extract_feat``) only, since its head
  runs per instance inside decoding.
- ``decode``: from fixed network outputs saved by posekit and loaded by both
  sides: AE ``head.decode((heatmaps, tags))`` (grouping), DEKR
  ``head.decode`` (SPR, rescoring, NMS), CID ``head.predict`` from saved
  backbone features (instance attention, decoupling, peaks).
- ``decode hard`` (AE): a crowd of 30 people on noisy maps, every keypoint
  with 30 candidates (``decode_topk=30``, ``decode_max_instances=30``).
A line per model then compares the keypoints the two sides return.

The reference runs in its own interpreter in a subprocess (``import
reference_shims`` first, PYTHONPATH=/work/shared/reference); posekit never
imports MMPose. mmcv's compiled deformable conv does not exist there, so
for DEKR the reference's ``DeformConv2d.forward`` is replaced by posekit's
pure-PyTorch ``deform_conv2d`` (loaded from its file): DEKR's network ratio
compares everything but that op.

Usage::

    python benchmarks/bottomup.py [--models ae dekr cid] [--threads 2]
                                  [--ref-python PATH | --no-ref]
"""
from __future__ import annotations

import argparse
import importlib.util
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
IMAGE = ROOT / 'tests/data/fixtures/coco/000000197388.jpg'
DEFAULT_REF_PYTHON = os.environ.get('POSEKIT_MMPOSE_PYTHON', '/tmp/mmpose-ref/bin/python')
REF_SHIMS = os.environ.get('POSEKIT_REFERENCE_SHIMS', '/work/shared/reference')
CONFIG_ROOT = Path(os.environ.get(
    'POSEKIT_MMPOSE_CONFIGS', '/tmp/mmpose-ref/lib/python3.11/site-packages/'
    'mmpose/.mim/configs/body_2d_keypoint'))
MODELS = {
    'ae': 'associative_embedding/coco/ae_hrnet-w32_8xb24-300e_coco-512x512.py',
    'dekr': 'dekr/coco/dekr_hrnet-w32_8xb10-140e_coco-512x512.py',
    'cid': 'cid/coco/cid_hrnet-w32_8xb20-140e_coco-512x512.py',
}
# init_cfg entries that would download weights
NO_DOWNLOAD = {'model.backbone.init_cfg': None}
OPTIONS = dict(ae=NO_DOWNLOAD, cid=NO_DOWNLOAD,
               dekr={**NO_DOWNLOAD, 'model.head.rescore_cfg.init_cfg': None})


def best_of_3(run) -> float:
    """Seconds per call of ``run()``: two warm-up calls, then 3 rounds of
    enough calls to last ~0.5 s (at least 1); the fastest round."""
    run()  # first calls allocate and pick kernels
    start = time.perf_counter()
    run()
    iters = max(1, min(50, int(0.5 / max(time.perf_counter() - start, 1e-6))))
    best = float('inf')
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(iters):
            run()
        best = min(best, (time.perf_counter() - start) / iters)
    return best


def network_input(model, compose, img):
    """Preprocessed ``(1, 3, h, w)`` input and data samples of ``img``."""
    data = compose(model.cfg.test_dataloader.dataset.pipeline)(
        dict(img=img, **model.dataset_meta))
    batch = model.data_preprocessor(dict(inputs=[data['inputs']],
                                         data_samples=[data['data_samples']]), False)
    return batch['inputs'], batch['data_samples']


def network(model, name: str, x):
    """What predict runs through the layers: the input and its mirror."""
    if name == 'cid':
        return [model.extract_feat(x), model.extract_feat(x.flip(-1))]
    return [model(x, None, mode='tensor'), model(x.flip(-1), None, mode='tensor')]


def decode_call(model, name: str, inputs: dict, samples, impl: str):
    """A no-argument call decoding the saved outputs ``inputs``."""
    head, cfg = model.head, model.test_cfg
    if name == 'ae':
        return lambda: head.decode((inputs['heatmaps'], inputs['tags']))
    if name == 'dekr':
        hm, disp = inputs['heatmaps'], inputs['displacements']
        if impl == 'mmpose':  # MMPose's DEKR decode takes one tensor per scale
            hm, disp = [hm], [disp]
        return lambda: head.decode(hm, disp, cfg, samples[0].metainfo)
    return lambda: head.predict(inputs['feats'], samples, test_cfg=cfg)


def measure(model, name: str, infer, compose, workdir: Path, impl: str) -> dict:
    """The timings of one model (its weights already loaded)."""
    import torch
    img = cv2.imread(str(IMAGE))
    x, samples = network_input(model, compose, img)
    inputs = torch.load(workdir / f'{name}_decode.pt')
    with torch.no_grad():
        decode = decode_call(model, name, inputs, samples, impl)
        out = dict(e2e=best_of_3(lambda: infer(model, img)),
                   net=best_of_3(lambda: network(model, name, x)),
                   decode=best_of_3(decode),
                   kpts=dict(e2e=infer(model, img)[0].pred_instances.keypoints,
                             decode=decode()[0].keypoints))
        if name == 'ae':
            hard = torch.load(workdir / 'ae_hard.pt')
            hard_decode = decode_call(model, name, hard, samples, impl)
            out['hard'] = best_of_3(hard_decode)
            out['kpts']['hard'] = hard_decode()[0].keypoints
    out['kpts'] = {k: np.asarray(v).tolist() for k, v in out['kpts'].items()}
    return out


# ------------------------------------------------------------------ posekit
def calibrate_batchnorm(model, x) -> None:
    """Running statistics of every BatchNorm = those of one forward on x."""
    import torch
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch gives its statistics
    model.train()
    with torch.no_grad():
        model(x, None, mode='tensor')
    model.eval()  # (momentum stays None: only inference follows)


def hard_ae_maps(heatmap_shape, people: int = 30, seed: int = 0) -> dict:
    """A noisy crowd for AE grouping: heatmaps ``(1, K, H, W)`` with one
    Gaussian peak (height in [0.5, 1), no ties: torch.topk orders ties its
    own way) per person and keypoint on uniform noise in [0, 0.3); tags
    ``(1, 2K, H, W)`` (both flip halves) N(0, 0.3) noise, person p's tag
    ``p + N(0, 0.1)`` painted around each of its peaks."""
    import torch
    rng = np.random.default_rng(seed)
    _, K, H, W = heatmap_shape
    heatmaps = rng.uniform(0, 0.3, (1, K, H, W)).astype(np.float32)
    tags = rng.normal(0, 0.3, (1, 2 * K, H, W)).astype(np.float32)
    r = np.arange(-4, 5)
    blob = np.exp(-(r[:, None]**2 + r[None]**2) / 8.0).astype(np.float32)
    for k in range(K):
        for p in range(people):
            x, y = rng.integers(4, W - 4), rng.integers(4, H - 4)
            win = np.s_[y - 4:y + 5, x - 4:x + 5]
            peak = blob * rng.uniform(0.5, 1.0)
            heatmaps[0, k][win] = np.maximum(heatmaps[0, k][win], peak)
            tags[0, [k, K + k], y - 4:y + 5, x - 4:x + 5] = p + rng.normal(0, 0.1, (2, 9, 9))
    return dict(heatmaps=torch.from_numpy(heatmaps), tags=torch.from_numpy(tags))


def prepare_posekit(name: str, workdir: Path):
    """Build, calibrate and save the model, and the decoding inputs."""
    import torch
    from posekit.apis import init_model
    from posekit.datasets.transforms import Compose
    torch.manual_seed(0)
    model = init_model(str(CONFIG_ROOT / MODELS[name]), None, cfg_options=OPTIONS[name])
    x, samples = network_input(model, Compose, cv2.imread(str(IMAGE)))
    calibrate_batchnorm(model, x)
    torch.save(model.state_dict(), workdir / f'{name}.pth')
    with torch.no_grad():
        if name == 'cid':
            saved = dict(feats=network(model, name, x))
        else:
            model.test_cfg['output_heatmaps'] = True
            fields = model.predict(x, samples)[0].pred_fields
            del model.test_cfg['output_heatmaps']
            saved = {k: v[None].contiguous() for k, v in fields.items()}
    torch.save(saved, workdir / f'{name}_decode.pt')
    if name == 'ae':
        torch.save(hard_ae_maps(saved['heatmaps'].shape), workdir / 'ae_hard.pt')
    return model, Compose


def bench_posekit(name: str, workdir: Path) -> dict:
    from posekit.apis import inference_bottomup
    model, compose = prepare_posekit(name, workdir)
    return measure(model, name, inference_bottomup, compose, workdir, 'posekit')


# ----------------------------------------------------------------- MMPose
def pure_pytorch_deform_conv() -> None:
    """Run mmcv's DeformConv2d with posekit's pure-PyTorch op (no compiled
    ops in the reference env); the file imports torch only."""
    spec = importlib.util.spec_from_file_location(
        'posekit_deform_conv', ROOT / 'posekit/models/utils/deform_conv.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from mmcv.ops import DeformConv2d
    DeformConv2d.forward = lambda self, x, offset: module.deform_conv2d(
        x, offset, self.weight, self.stride, self.padding, self.dilation,
        self.groups, self.deform_groups)


def bench_mmpose(name: str, workdir: Path) -> dict:
    import reference_shims  # noqa: F401  (stubs mmcv._ext, torchvision)
    import torch
    from mmengine.dataset import Compose
    from mmengine.config import Config
    from mmpose.apis import inference_bottomup, init_model
    from mmpose.utils import register_all_modules
    register_all_modules()
    if name == 'dekr':
        pure_pytorch_deform_conv()
    cfg = Config.fromfile(str(CONFIG_ROOT / MODELS[name]))
    cfg.merge_from_dict(OPTIONS[name])
    model = init_model(cfg, None, device='cpu')
    model.load_state_dict(torch.load(workdir / f'{name}.pth'), strict=True)
    return measure(model, name, inference_bottomup, Compose, workdir, 'mmpose')


def run_reference(python: str, names: list[str], workdir: Path, threads: int) -> dict:
    cmd = [python, __file__, '--impl', 'mmpose', '--workdir', str(workdir),
           '--threads', str(threads), '--models', *names]
    env = dict(os.environ, PYTHONPATH=REF_SHIMS)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode:
        print(f'reference run failed:\n{proc.stderr[-3000:]}', file=sys.stderr)
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report
def ratio(a, b) -> str:
    return f'{a / b:9.2f}x' if a is not None and b else f'{"-":>10}'


def seconds(v) -> str:
    return f'{v:10.4f}' if v is not None else f'{"-":>10}'


def report(name: str, ours: dict, theirs: dict) -> None:
    rows = [('end-to-end', 'e2e'), ('network x2', 'net'), ('decode', 'decode')]
    if name == 'ae':
        rows.append(('decode hard', 'hard'))
    for label, key in rows:
        print(f'{name:<5} {label:<12} {seconds(ours[key])} {seconds(theirs.get(key))} '
              f'{ratio(ours[key], theirs.get(key))}')
    share = (f'{theirs["decode"] / theirs["e2e"]:9.1%}' if theirs else f'{"-":>9}')
    print(f'{name:<5} {"decode share":<12} {ours["decode"] / ours["e2e"]:10.1%} {share:>10}')
    if theirs:  # same weights, same inputs: outputs should agree
        checks = []
        for key, ours_k in ours['kpts'].items():
            a, b = np.asarray(ours_k), np.asarray(theirs['kpts'][key])
            diff = (f'max diff {np.abs(a - b).max():.2g} px' if a.shape == b.shape and a.size
                    else 'shapes differ' if a.shape != b.shape else 'both empty')
            checks.append(f'{key}: {len(a)} vs {len(b)} people, {diff}')
        print('      ' + '; '.join(checks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--impl', default='posekit', choices=('posekit', 'mmpose'))
    parser.add_argument('--workdir', help='(internal) files shared with the reference run')
    parser.add_argument('--ref-python', default=DEFAULT_REF_PYTHON)
    parser.add_argument('--no-ref', action='store_true')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    if args.impl == 'mmpose':
        print(json.dumps({n: bench_mmpose(n, Path(args.workdir)) for n in args.models}))
        return
    with tempfile.TemporaryDirectory() as tmp:
        ours = {n: bench_posekit(n, Path(tmp)) for n in args.models}
        ref = {}
        if not args.no_ref and os.path.exists(args.ref_python):
            ref = run_reference(args.ref_python, args.models, Path(tmp), args.threads)
    print(f'inference_bottomup, {IMAGE.name} (640x392), flip test, {args.threads} '
          'threads; seconds per image, best of 3 (lower is better)')
    print(f'{"model":<5} {"stage":<12} {"posekit":>10} {"MMPose":>10} {"pk/MMPose":>10}')
    for name in args.models:
        report(name, ours[name], ref.get(name, {}))


if __name__ == '__main__':
    main()
