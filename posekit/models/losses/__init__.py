"""posekit.models.losses: each module is imported here, which registers it."""
