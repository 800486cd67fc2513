"""Tables of the importers: the geocoder cache and the last record each source gave for a venue."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.db import Base, utcnow
from directory.models import VenueSource


class GeocodeCache(Base):
    """One answer of the address API, kept so the same address is never asked twice.

    `key` is a hash of the normalised address and the INSEE filter; a miss is cached too
    (no coordinates) so unresolvable addresses cost one request only.
    """

    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    query: Mapped[str] = mapped_column(String(500))
    citycode_filter: Mapped[str | None] = mapped_column(String(5))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    score: Mapped[float | None]
    label: Mapped[str | None] = mapped_column(String(300))
    citycode: Mapped[str | None] = mapped_column(String(5))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceRecord(Base):
    """The cleaned fields one source last published for a venue; a merged venue has several."""

    __tablename__ = "source_record"

    venue_source_id: Mapped[int] = mapped_column(
        ForeignKey("venue_source.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    date_maj: Mapped[date | None]
    # The day the platform that exported this record first saw the venue (from the export's sidecar),
    # when it had no source date: exports write it as date_maj, imports keep date_maj unknown.
    first_seen: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    venue_source: Mapped[VenueSource] = relationship()
