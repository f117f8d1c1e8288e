"""posekit.evaluation: its modules are imported here, which registers them."""
