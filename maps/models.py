"""Tables of the public cartography: rebuild runs, coverage figures, reports from the public."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.db import Base, utcnow
from directory.models import Venue, _enum

# --------------------------------------------------------------- reports from the public


class ReportTopic(enum.StrEnum):
    ADDRESS = "adresse"
    HOURS = "horaires"
    CONTACTS = "contacts"
    SERVICES = "services"
    CLOSED = "ferme"
    OTHER = "autre"


REPORT_TOPIC_LABELS = {
    ReportTopic.ADDRESS: "L'adresse ou la position sur la carte",
    ReportTopic.HOURS: "Les horaires",
    ReportTopic.CONTACTS: "Le téléphone, le courriel ou le site web",
    ReportTopic.SERVICES: "Les services proposés",
    ReportTopic.CLOSED: "Le lieu est fermé ou n'existe plus",
    ReportTopic.OTHER: "Autre chose",
}


class VenueReport(Base):
    """An error on a public venue page reported by anyone, kept for APTIC staff to handle."""

    __tablename__ = "venue_report"
    __table_args__ = (Index("ix_venue_report_open", "handled_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"), index=True)
    topic: Mapped[ReportTopic] = mapped_column(_enum(ReportTopic, "report_topic"))
    message: Mapped[str] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]

    venue: Mapped[Venue] = relationship()


# ------------------------------------------------------------------ territorial coverage


class CommuneCoverage(Base):
    """Per commune, the distance from its centre to the nearest published venue of each level.

    Rebuilt as a whole by `maps.coverage.refresh_coverage` (weekly cartography rebuild). The codes of
    the commune's département, région and EPCI are copied here so a territory's figures are plain
    sums over an indexed column, without joins nor distances at read time.
    """

    __tablename__ = "coverage_commune"
    __table_args__ = (CheckConstraint("population >= 0", name="population_not_negative"),)

    commune_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    departement_code: Mapped[str | None] = mapped_column(String(3), index=True)
    region_code: Mapped[str | None] = mapped_column(String(2), index=True)
    epci_code: Mapped[str | None] = mapped_column(String(9), index=True)
    population: Mapped[int] = mapped_column(Integer)
    # False for the few communes of the COG without a centre point: no distance can be measured.
    located: Mapped[bool]
    # Metres on the WGS84 ellipsoid; NULL when no published venue offers the level.
    distance_level1_m: Mapped[float | None] = mapped_column(Float)
    distance_level2_m: Mapped[float | None] = mapped_column(Float)
    distance_level3_m: Mapped[float | None] = mapped_column(Float)
    venues: Mapped[int] = mapped_column(Integer)
    venues_level1: Mapped[int] = mapped_column(Integer)
    venues_level2: Mapped[int] = mapped_column(Integer)
    venues_level3: Mapped[int] = mapped_column(Integer)
    # The qualification's E2SFCA score: qualified venues per 10,000 inhabitants within reach.
    accessibility: Mapped[float | None] = mapped_column(Float)


class CoverageRefresh(Base):
    """Each computation of the coverage table, so pages can say when their figures date from."""

    __tablename__ = "coverage_refresh"

    id: Mapped[int] = mapped_column(primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
    communes: Mapped[int] = mapped_column(Integer)
    venues: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)


class FragilityIndex(Base):
    """The digital fragility index (IFN) of a commune or an EPCI, scores from 1 (low) to 10 (high)."""

    __tablename__ = "fragility_index"
    __table_args__ = (CheckConstraint("level IN ('commune', 'epci')", name="level_known"),)

    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    no_thd_coverage_rate: Mapped[float | None] = mapped_column(Float)
    no_4g_coverage_rate: Mapped[float | None] = mapped_column(Float)
    poverty_rate: Mapped[float | None] = mapped_column(Float)
    older_65_rate: Mapped[float | None] = mapped_column(Float)
    nscol15p_rate: Mapped[float | None] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(300))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------ weekly rebuild runs


class RunStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


RUN_STATUS_LABELS = {
    RunStatus.SUCCEEDED: "Réussie",
    RunStatus.FAILED: "Échouée (cartographie précédente conservée)",
    RunStatus.SKIPPED: "Ignorée (une autre reconstruction était en cours)",
}


class CartographyRun(Base):
    """One weekly rebuild of the public cartography; a succeeded run commits with its switch."""

    __tablename__ = "cartography_run"
    __table_args__ = (Index("ix_cartography_run_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"))
    trigger: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    seconds: Mapped[float] = mapped_column(Float)
    published: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    promoted: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    # {"steps": [{"name", "seconds"}], "added": [...ids], "removed": [...], "promoted": [...], "flagged": [...]}
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class RebuildClaim(Base):
    """A scheduled rebuild taken by one scheduler process: the unique due time makes it run once."""

    __tablename__ = "cartography_claim"

    id: Mapped[int] = mapped_column(primary_key=True)
    due_at: Mapped[datetime] = mapped_column(unique=True)
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
