"""posekit.apis: its modules are imported here, which registers them."""
