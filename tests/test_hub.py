"""posekit.hub against a loopback HTTP server started by the tests.

Each test serves files it writes into its tmp dir from a
``ThreadingHTTPServer`` on 127.0.0.1 (port 0: any free one), counts the
requests, and points ``TORCH_HOME`` at its tmp dir, so nothing reaches the
network or the user's cache.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from posekit import hub
from posekit.hub import DownloadError, UnknownModelName

ROOT = Path(__file__).resolve().parents[1]

# Every scheme name in MMPose 1.3.2's configs (checkpoint=, pretrained=,
# load_from=, teacher_pretrained= values; 464 files, 361 values: 200 https
# URLs, 91 torchvision://, 45 mmcls://, 18 open-mmlab://, 7 local paths).
MMPOSE_SCHEME_NAMES = [
    'torchvision://resnet50', 'torchvision://resnet101', 'torchvision://resnet152',
    'open-mmlab://msra/hrnetv2_w18',
    'mmcls://mobilenet_v2', 'mmcls://resnest50', 'mmcls://resnest101',
    'mmcls://resnest200', 'mmcls://resnest269', 'mmcls://resnet50_v1d',
    'mmcls://resnet101_v1d', 'mmcls://resnet152_v1d', 'mmcls://resnext50_32x4d',
    'mmcls://resnext101_32x4d', 'mmcls://resnext152_32x4d', 'mmcls://se-resnet50',
    'mmcls://se-resnet101', 'mmcls://shufflenet_v1', 'mmcls://shufflenet_v2',
    'mmcls://vgg16_bn',
]


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the server's ``root`` folder; a few paths misbehave on purpose."""

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        server = self.server
        with server.lock:
            server.requests.append(self.path)
        name = self.path.lstrip('/')
        if name.startswith('truncated'):  # promises more bytes than it sends
            self._head(200, 'application/octet-stream', 1000)
            self.wfile.write(b'\x80' * 10)
            self.close_connection = True
            return
        if name.startswith('page'):
            body = b'<!DOCTYPE html><html>sign in</html>'
            self._head(200, 'text/html; charset=utf-8', len(body))
            self.wfile.write(body)
            return
        path = server.root / name
        if not path.is_file():
            self.send_error(404, 'Not Found')
            return
        data = path.read_bytes()
        # a web page sent as binary: only the "<" in the body gives it away
        self._head(200, 'application/octet-stream', len(data))
        self.wfile.write(data)

    def _head(self, code, content_type, length):
        self.send_response(code)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(length))
        self.end_headers()

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(base URL, served folder, list of request paths); TORCH_HOME in tmp."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.delenv('POSEKIT_OFFLINE', raising=False)
    root = tmp_path / 'served'
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    httpd.daemon_threads = True
    httpd.root, httpd.requests, httpd.lock = root, [], threading.Lock()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}', root, httpd.requests
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def serve_checkpoint(root: Path, stem: str, state: dict, hashed: bool = True) -> str:
    """Save ``state`` under ``root`` as ``stem-<sha256[:8]>.pth``; its name."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    name = f'{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth' if hashed else f'{stem}.pth'
    (root / name).write_bytes(data)
    return name


def cache_files() -> list[str]:
    folder = hub.cache_dir()
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_cache_dir_follows_torch_hub(monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 't'))
    assert hub.cache_dir() == str(tmp_path / 't' / 'hub' / 'checkpoints')
    monkeypatch.delenv('TORCH_HOME')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'x'))
    assert hub.cache_dir() == str(tmp_path / 'x' / 'torch' / 'hub' / 'checkpoints')
    monkeypatch.delenv('XDG_CACHE_HOME')
    assert hub.cache_dir() == os.path.expanduser('~/.cache/torch/hub/checkpoints')


def test_download_then_cache_hit(server):
    base, root, requests = server
    name = serve_checkpoint(root, 'w', {'a': torch.arange(3.0)})
    path = hub.download(f'{base}/{name}', progress=False)
    assert path == os.path.join(hub.cache_dir(), name)
    assert Path(path).read_bytes() == (root / name).read_bytes()
    assert hub.local_checkpoint(f'{base}/{name}') == path  # cached: no request
    assert requests == [f'/{name}'] and cache_files() == [name]


def test_read_checkpoint_of_a_url(server):
    """What init_model, load_from/resume and the CLI read a checkpoint with."""
    from posekit.models.utils import CheckpointError, read_checkpoint
    base, root, requests = server
    name = serve_checkpoint(root, 'full', {'meta': {'epoch': 3}, 'state_dict': {
        'w': torch.arange(4.0)}})
    checkpoint = read_checkpoint(f'{base}/{name}')
    assert checkpoint['meta'] == {'epoch': 3}
    assert torch.equal(checkpoint['state_dict']['w'], torch.arange(4.0))
    (root / 'broken.pth').write_bytes(b'PK\x03\x04 not really a zip')
    with pytest.raises(CheckpointError, match=f'downloaded from {base}/broken.pth: delete'):
        read_checkpoint(f'{base}/broken.pth')
    assert requests == [f'/{name}', '/broken.pth']


def test_progress_is_one_line_off_a_terminal(server, capfd):
    base, root, _ = server
    name = serve_checkpoint(root, 'p', {'a': torch.zeros(1)})
    path = hub.download(f'{base}/{name}')
    assert capfd.readouterr().err == f'posekit: downloading {base}/{name} to {path}\n'


def test_progress_bar_on_a_terminal(server, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    base, root, _ = server
    name = serve_checkpoint(root, 'p', {'a': torch.zeros(1000)})
    monkeypatch.setattr(sys, 'stderr', Terminal())
    hub.download(f'{base}/{name}')
    lines = sys.stderr.getvalue().split('\r')
    assert lines[0].startswith('posekit: downloading') and '(100%)' in lines[1]
    assert lines[-1].strip() == '0.0 MB done'


def test_importing_the_hub_imports_no_torch():
    code = 'import sys, posekit.hub; print("torch" in sys.modules)'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    assert out.stdout.strip() == 'False'


def test_hash_mismatch_keeps_nothing(server):
    base, root, _ = server
    name = serve_checkpoint(root, 'w', {'a': torch.ones(2)})
    (root / name).write_bytes((root / name).read_bytes() + b'x')  # data changed, name not
    with pytest.raises(DownloadError, match=f'SHA-256.*{name[2:10]}.*nothing was saved'):
        hub.download(f'{base}/{name}', progress=False)
    assert cache_files() == []
    # the check can be turned off, as torch.hub's check_hash=False
    assert os.path.isfile(hub.download(f'{base}/{name}', check_hash=False, progress=False))


@pytest.mark.parametrize('name, why', [
    ('truncated-x.pth', 'stopped after 10 of 1000 bytes'),
    ('missing.pth', 'HTTP 404 Not Found'),
    ('page.pth', 'HTML page'),
    ('disguised.pth', 'starts with "<"'),
])
def test_failures_give_one_clear_error_and_cache_nothing(server, name, why):
    base, root, _ = server
    (root / 'disguised.pth').write_bytes(b'\n<html><body>404</body></html>')
    url = f'{base}/{name}'
    with pytest.raises(DownloadError) as info:
        hub.download(url, progress=False)
    message = str(info.value)
    assert url in message and why in message
    assert os.path.join(hub.cache_dir(), name) in message
    assert cache_files() == []


def test_no_server_is_a_download_error(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.delenv('POSEKIT_OFFLINE', raising=False)
    port = _free_port()
    with pytest.raises(DownloadError, match='no connection'):
        hub.download(f'http://127.0.0.1:{port}/w.pth', progress=False, timeout=5)


def _free_port() -> int:
    """A local port nobody listens on (bound, then closed)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_offline_uses_the_cache_and_never_connects(server, monkeypatch):
    base, root, requests = server
    name = serve_checkpoint(root, 'w', {'a': torch.ones(1)})
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')
    expected = os.path.join(hub.cache_dir(), name)
    with pytest.raises(DownloadError, match=f'POSEKIT_OFFLINE.*put it at {expected}'):
        hub.local_checkpoint(f'{base}/{name}')
    os.makedirs(hub.cache_dir())
    Path(expected).write_bytes((root / name).read_bytes())
    assert hub.download(f'{base}/{name}') == expected
    assert requests == []


_FETCH = '''
import sys
from posekit import hub
sys.stdout.write(hub.download(sys.argv[1], progress=False))
'''


def test_two_processes_fetching_one_file(server):
    base, root, requests = server
    name = serve_checkpoint(root, 'big', {'a': torch.arange(300_000.0)})  # ~1.2 MB
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, '-c', _FETCH, f'{base}/{name}'],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    expected = os.path.join(hub.cache_dir(), name)
    assert [out for out, _ in results] == [expected, expected]
    assert cache_files() == [name]  # no temporary file left
    assert Path(expected).read_bytes() == (root / name).read_bytes()
    assert len(requests) == 1   # one downloads, the other waits its turn and finds it


def test_pretrained_url_in_a_training_run(server, tmp_path):
    from posekit.config import Config
    from posekit.datasets.synthetic import make_synthetic_coco
    from posekit.engine import Runner
    from posekit.registry import MODELS

    base, root, requests = server
    cfg = Config.fromfile(ROOT / 'tests' / 'engine' / 'data' / 'td-hm_tiny_synthetic.py')
    torch.manual_seed(1)
    served = MODELS.build(cfg.model.backbone).state_dict()
    name = serve_checkpoint(root, 'x', served)
    data = str(tmp_path / 'data') + os.sep
    make_synthetic_coco(data, num_images=10, seed=0, val_fraction=0.2)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader]['dataset']['data_root'] = data
    for metric in cfg.val_evaluator:
        if 'ann_file' in metric:
            metric['ann_file'] = data + 'annotations/val.json'
    cfg.work_dir = str(tmp_path / 'work')
    cfg.merge_from_dict({
        'train_cfg.max_epochs': 1,
        'optim_wrapper.optimizer.lr': 0.0,  # Adam with lr 0 leaves weights as loaded
        'model.backbone.init_cfg': dict(type='Pretrained', checkpoint=f'{base}/{name}')})
    model = Runner.from_cfg(cfg).train()
    trained = model.backbone.state_dict()
    convs = [k for k in served if k.endswith('conv1.weight') or k.endswith('conv2.weight')]
    assert len(convs) == 17  # the stem and 8 basic blocks of two convs
    assert all(torch.equal(trained[k], served[k]) for k in convs)
    assert requests == [f'/{name}']


@pytest.mark.parametrize('name', MMPOSE_SCHEME_NAMES)
def test_every_scheme_name_in_mmpose_configs_resolves(name):
    url = hub.resolve(name)
    assert url.startswith('https://download.') and url.endswith('.pth')


def test_scheme_table_facts():
    assert hub.resolve('torchvision://resnet50') == \
        'https://download.pytorch.org/models/resnet50-0676ba61.pth'
    assert hub.resolve('modelzoo://resnet50') == hub.resolve('torchvision://resnet50')
    assert hub.resolve('openmmlab://msra/hrnetv2_w18') == \
        'https://download.openmmlab.com/pretrain/third_party/hrnetv2_w18-00eb2006.pth'
    with pytest.warns(UserWarning, match='deprecated in favor of open-mmlab://detectron/'):
        renamed = hub.resolve('open-mmlab://resnet50_caffe')
    assert renamed == hub.resolve('open-mmlab://detectron/resnet50_caffe')
    assert hub.resolve('https://a/b.pth') == 'https://a/b.pth'


def test_unknown_names_suggest_close_ones():
    with pytest.raises(UnknownModelName, match='close names: torchvision://resnet50'):
        hub.resolve('torchvision://resnet5')
    with pytest.raises(UnknownModelName, match="'s3://b/w.pth'.*local path"):
        hub.local_checkpoint('s3://b/w.pth')
    with pytest.raises(UnknownModelName, match='no pretrained weights'):
        hub.resolve('torchvision://shufflenetv2_x2.0')


def test_local_paths_pass_through(tmp_path):
    path = tmp_path / 'w.pth'
    path.write_bytes(b'x')
    assert hub.local_checkpoint(str(path)) == str(path)
    with pytest.raises(FileNotFoundError, match='checkpoint not found: .*nothere.pth'):
        hub.local_checkpoint(str(tmp_path / 'nothere.pth'))
