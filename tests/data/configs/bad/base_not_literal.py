name = 'x.py'
_base_ = [name]
