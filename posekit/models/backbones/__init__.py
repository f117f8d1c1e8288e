"""posekit.models.backbones: each module is imported here, which registers it."""
