"""posekit.models: its modules are imported here, which registers them."""
