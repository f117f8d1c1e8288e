_base_ = ['../spec/optimizer_cfg.py', '../spec/resnet50.py']
