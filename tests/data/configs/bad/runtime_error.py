model = dict(type='ResNet', depth=50)

head = dict(in_channels=undefined_name)
