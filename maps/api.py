"""Business functions of the public cartography: rebuild, coverage figures, map building."""

from __future__ import annotations

from directory.db import ScheduledJob

SCHEDULED_JOBS: list[ScheduledJob] = []
