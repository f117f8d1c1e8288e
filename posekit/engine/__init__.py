"""posekit.engine: its modules are imported here, which registers them."""
