"""posekit.models.utils: each module is imported here, which registers it."""
