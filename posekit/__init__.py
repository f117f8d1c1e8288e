"""posekit: 2D and 3D keypoint (pose) estimation, compatible with MMPose 1.x configs.

Importing ``posekit`` is cheap: the heavy packages (models, datasets, engine)
are imported by the registries when a config first needs them.
"""
__version__ = '0.1.0'
