"""posekit.models.necks: each module is imported here, which registers it."""
