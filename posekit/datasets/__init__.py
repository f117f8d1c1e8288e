"""posekit.datasets: its modules are imported here, which registers them."""
