"""posekit.models.data_preprocessors: each module is imported here, which registers it."""
