"""posekit.datasets.transforms: its modules are imported here, which registers them."""
