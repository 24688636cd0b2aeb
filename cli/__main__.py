"""``python -m bullpen.cli``: the same as the ``bullpen`` command."""

import sys

from .main import entry

sys.exit(entry())
