model = dict(
    type='ResNet',
    depth=50
optimizer = dict(type='SGD')
