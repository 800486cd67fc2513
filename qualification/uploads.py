"""Files of uploaded documents on disk: a replaced file goes once its replacement is committed, and a
sweep removes files no row refers to (left by a rolled-back upload or from before that rule)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from qualification.models import ApplicationDocument

_PENDING = "qualification.files_to_delete"


def delete_after_commit(session: Session, path: Path) -> None:
    """Remove `path` when the session's transaction commits; a rollback keeps it (the row still points to it)."""
    if not event.contains(session, "after_commit", _delete_pending):
        event.listen(session, "after_commit", _delete_pending)
        event.listen(session, "after_rollback", _forget_pending)
    session.info.setdefault(_PENDING, []).append(path)


def _delete_pending(session: Session) -> None:
    for path in session.info.pop(_PENDING, []):
        path.unlink(missing_ok=True)


def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class SweepReport:
    kept: int
    removed: list[Path]
    removed_bytes: int


def sweep_orphans(session: Session, storage: Path, grace_seconds: float = 24 * 3600, dry_run: bool = False) -> SweepReport:
    """Remove stored files no document row names, older than `grace_seconds` (an upload may be in flight)."""
    referenced = {(str(app_id), name) for app_id, name in
                  session.execute(select(ApplicationDocument.application_id, ApplicationDocument.stored_name))}
    cutoff = time.time() - grace_seconds
    kept, removed, removed_bytes = 0, [], 0
    for path in sorted(storage.glob("*/*")) if storage.is_dir() else []:
        if not path.is_file():
            continue
        if (path.parent.name, path.name) in referenced or path.stat().st_mtime > cutoff:
            kept += 1
            continue
        removed_bytes += path.stat().st_size
        removed.append(path)
        if not dry_run:
            path.unlink(missing_ok=True)
    return SweepReport(kept, removed, removed_bytes)
