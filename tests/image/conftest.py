"""The image test's helpers are plain modules next to it (``tox -e image`` installs neither the
application nor its test fixtures: everything is driven from outside, through the proxy)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
