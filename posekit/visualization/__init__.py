"""posekit.visualization: its modules are imported here, which registers them."""
