"""``posekit models``: the model index as a table or JSON."""
import json

from posekit.cli import main


def test_all_models_listed(capsys):
    assert main(['models']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ['NAME', 'TASK', 'INPUT', 'DATASET', 'METRIC', 'ALIASES']
    assert lines[-1] == '367 models'
    assert len(lines) == 367 + 2
    human = next(line for line in lines if line.startswith('rtmpose-m_8xb256-420e_body8-256x192'))
    assert human.split() == ['rtmpose-m_8xb256-420e_body8-256x192', 'body2d', '256x192',
                             'Body8', 'AP', '0.749', 'human,body,body17']


def test_filters_and_json(capsys):
    assert main(['models', '--task', 'hand3d']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ['internet_res50_4xb16-20e_interhand3d-256x256',
                                    'hand3d', '256x256']
    assert lines[-1] == '1 models'
    assert main(['models', '--search', 'SMALL-simple_8xb64-210e_coco', '--json']) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e['name'] for e in entries] == ['td-hm_ViTPose-small-simple_8xb64-210e_coco-256x192']
    assert entries[0]['aliases'] == ['vitpose-s']
    assert main(['models', '--search', 'no-such-model']) == 0
    assert capsys.readouterr().out.splitlines() == [
        'NAME  TASK  INPUT  DATASET  METRIC  ALIASES', '0 models']
