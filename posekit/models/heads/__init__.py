"""posekit.models.heads: each module is imported here, which registers it."""
