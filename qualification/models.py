"""Tables of the qualification: applications, documents, quota policy, decisions, pending changes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.db import Base, utcnow
from directory.models import Organisation, Venue, VenueStatus, _enum


class ApplicationStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    COMPLETE = "complete"
    QUALIFIED = "qualified"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"


APPLICATION_STATUS_LABELS = {
    ApplicationStatus.DRAFT: "Brouillon",
    ApplicationStatus.SUBMITTED: "Déposé, en cours d'examen",
    ApplicationStatus.COMPLETE: "Complet, en attente de décision",
    ApplicationStatus.QUALIFIED: "Qualifié",
    ApplicationStatus.WAITLISTED: "En liste d'attente",
    ApplicationStatus.REJECTED: "Refusé",
}


class VenueOutcome(enum.StrEnum):
    PENDING = "pending"
    QUALIFIED = "qualified"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"


VENUE_OUTCOME_LABELS = {
    VenueOutcome.PENDING: "En attente de décision",
    VenueOutcome.QUALIFIED: "Qualifié",
    VenueOutcome.WAITLISTED: "En liste d'attente",
    VenueOutcome.REJECTED: "Refusé",
}


class Application(Base):
    """An organisation's application to have one or more points de présence qualified."""

    __tablename__ = "qualification_application"
    __table_args__ = (Index("ix_qualification_application_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), index=True)
    status: Mapped[ApplicationStatus] = mapped_column(
        _enum(ApplicationStatus, "application_status"), default=ApplicationStatus.DRAFT
    )
    iban: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    account_holder: Mapped[str | None] = mapped_column(String(200))
    # The holder staff accepted although it differs from the legal name; a new holder needs a new review.
    account_holder_accepted: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()
    sites: Mapped[list[ApplicationVenue]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationVenue.venue_id"
    )
    documents: Mapped[list[ApplicationDocument]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationDocument.kind"
    )


class ApplicationVenue(Base):
    """A point de présence of an application, with its own outcome (quotas are per territory)."""

    __tablename__ = "qualification_application_venue"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("qualification_application.id", ondelete="CASCADE"), primary_key=True
    )
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="RESTRICT"), primary_key=True, unique=True)
    outcome: Mapped[VenueOutcome] = mapped_column(_enum(VenueOutcome, "venue_outcome"), default=VenueOutcome.PENDING)
    waitlisted_at: Mapped[datetime | None]
    # Inhabitants who would get a venue of a level it offers within 10 km; the first waitlist key.
    population_gain: Mapped[int | None] = mapped_column(Integer)

    application: Mapped[Application] = relationship(back_populates="sites")
    venue: Mapped[Venue] = relationship()


class ApplicationDocument(Base):
    """One uploaded supporting document; a new upload of the same kind replaces the previous one."""

    __tablename__ = "qualification_document"
    __table_args__ = (
        UniqueConstraint("application_id", "kind"),
        CheckConstraint("size > 0", name="size_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("qualification_application.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    original_name: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[Application] = relationship(back_populates="documents")


class Decision(Base):
    """Why a point de présence was qualified, waitlisted, promoted or rejected, with the figures."""

    __tablename__ = "qualification_decision"
    __table_args__ = (Index("ix_qualification_decision_venue", "venue_id", "decided_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("qualification_application.id", ondelete="CASCADE"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="RESTRICT"))
    outcome: Mapped[VenueOutcome] = mapped_column(_enum(VenueOutcome, "venue_outcome"))
    rule: Mapped[str] = mapped_column(String(50))
    territory_level: Mapped[str] = mapped_column(String(16))
    territory_code: Mapped[str] = mapped_column(String(9))
    territory_name: Mapped[str] = mapped_column(String(200))
    population: Mapped[int] = mapped_column(Integer)
    qualified_before: Mapped[int] = mapped_column(Integer)
    quota: Mapped[int] = mapped_column(Integer)
    accessibility_before: Mapped[float] = mapped_column(Float)
    accessibility_after: Mapped[float] = mapped_column(Float)
    population_gain: Mapped[int] = mapped_column(Integer, default=0)
    sentence: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuotaPolicy(Base):
    """The national rule, one row per change; the latest row applies."""

    __tablename__ = "qualification_quota_policy"
    __table_args__ = (
        CheckConstraint("ratio > 0", name="ratio_positive"),
        CheckConstraint("level IN ('region', 'departement', 'epci', 'commune')", name="level_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    ratio: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuotaOverride(Base):
    """A territory whose ratio or quota APTIC staff set by hand, with the reason."""

    __tablename__ = "qualification_quota_override"
    __table_args__ = (
        UniqueConstraint("level", "code"),
        CheckConstraint("ratio IS NOT NULL OR quota IS NOT NULL", name="ratio_or_quota"),
        CheckConstraint("ratio IS NULL OR ratio > 0", name="ratio_positive"),
        CheckConstraint("quota IS NULL OR quota >= 1", name="quota_at_least_one"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(9))
    ratio: Mapped[int | None] = mapped_column(Integer)
    quota: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PendingVenueChange(Base):
    """A dequalification or closure decided by staff, applied by the next weekly rebuild."""

    __tablename__ = "qualification_pending_change"
    __table_args__ = (
        Index(
            "uq_qualification_pending_change_open", "venue_id", unique=True,
            sqlite_where=text("applied_at IS NULL"), postgresql_where=text("applied_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"))
    target_status: Mapped[VenueStatus] = mapped_column(_enum(VenueStatus, "venue_status"))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None]

    venue: Mapped[Venue] = relationship()
