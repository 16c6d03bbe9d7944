"""retrainer keeps production ML models fresh without a person in the loop."""

from __future__ import annotations

__version__ = "0.1.0"
