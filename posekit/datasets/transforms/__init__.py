"""posekit.datasets.transforms: its modules are imported here, which registers them."""
from .compose import Compose
from .converting import KeypointConverter

__all__ = ['Compose', 'KeypointConverter']
