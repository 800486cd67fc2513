"""Tables of the public cartography: rebuild runs, coverage figures, reports from the public."""

from __future__ import annotations
