from regpkg.registry import THINGS


@THINGS.register_module()
class Widget:
    def __init__(self, size=1):
        self.size = size
