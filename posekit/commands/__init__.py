"""One module per ``posekit`` subcommand; see ``posekit/cli.py``."""
