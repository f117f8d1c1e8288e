"""posekit.codecs: its modules are imported here, which registers them."""
