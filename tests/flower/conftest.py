"""The example app (examples/flower-digits) is importable as `flower_digits`."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flower-digits"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))
