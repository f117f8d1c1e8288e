"""posekit.models.pose_estimators: each module is imported here, which registers it."""
