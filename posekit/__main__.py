"""``python -m posekit`` is the ``posekit`` command."""
import sys

from posekit.cli import main

sys.exit(main())
