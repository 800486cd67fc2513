"""State co-funding: calls for projects, the sponsors' applications and who applies with whom.

The envelope is guarded in the database too: a call's `committed_cents` (the sum of the grants of its
accepted applications) can never exceed its `envelope_cents`, so even an acceptance that escaped the
row lock could not overspend it. Orders covered by an application carry their shares (see
`redemption/shares.py` and the CHECKs on `pass_order`).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.db import Base, utcnow
from directory.models import Organisation, _enum
from directory.transitions import StateMachine

DEFAULT_FUNDER = "État"
DEFAULT_SHARE_BP = 5_000  # 50 %


class AuthorityKind(enum.StrEnum):
    """What kind of territorial authority (or grouping of them) an applicant is."""

    REGION = "region"
    DEPARTEMENT = "departement"
    COLLECTIVITE_UNIQUE = "collectivite_unique"  # Corse, Martinique, Guyane, Mayotte, Ville de Paris…
    METROPOLE = "metropole"
    EPCI = "epci"  # communauté urbaine, d'agglomération, de communes
    SYNDICAT_MIXTE = "syndicat_mixte"
    PETR = "petr"
    COMMUNE = "commune"
    OTHER = "autre"  # an association, a company…: never eligible to the State's calls


AUTHORITY_KIND_LABELS = {
    AuthorityKind.REGION: "région",
    AuthorityKind.DEPARTEMENT: "département",
    AuthorityKind.COLLECTIVITE_UNIQUE: "collectivité à statut particulier",
    AuthorityKind.METROPOLE: "métropole",
    AuthorityKind.EPCI: "intercommunalité (EPCI)",
    AuthorityKind.SYNDICAT_MIXTE: "syndicat mixte",
    AuthorityKind.PETR: "pôle d'équilibre territorial et rural (PETR)",
    AuthorityKind.COMMUNE: "commune",
    AuthorityKind.OTHER: "autre organisation",
}
# Territorial authorities and their groupings; communes only as a group (checked on submission).
DEFAULT_ELIGIBLE_KINDS = [kind.value for kind in AuthorityKind if kind != AuthorityKind.OTHER]


class FileSection(enum.StrEnum):
    """The parts of an application file a call may require."""

    PUBLICS = "publics"
    AREA = "area"
    STRUCTURING = "structuring"
    EUROPEAN_FUNDS = "european_funds"
    PARTNERS = "partners"
    BUDGET = "budget"


FILE_SECTION_LABELS = {
    FileSection.PUBLICS: "publics visés et comment les atteindre",
    FileSection.AREA: "territoire de déploiement",
    FileSection.STRUCTURING: "actions de structuration des acteurs locaux de la médiation",
    FileSection.EUROPEAN_FUNDS: "fonds européens mobilisés",
    FileSection.PARTNERS: "partenaires",
    FileSection.BUDGET: "budget prévisionnel",
}
DEFAULT_SECTIONS = [section.value for section in FileSection]


class CallStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


CALL_STATUS_LABELS = {CallStatus.OPEN: "ouvert", CallStatus.CLOSED: "clos"}
CALL_MACHINE = StateMachine(
    kind="cofunding_call",
    states=CallStatus,
    moves={CallStatus.OPEN: frozenset({CallStatus.CLOSED}), CallStatus.CLOSED: frozenset()},
    labels=CALL_STATUS_LABELS,
    refusal="L'appel à projets « {record.name} » est {current} : il ne peut pas devenir {target}.",
    reason_required=False,
)


class ApplicationStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REFUSED = "refused"


APPLICATION_STATUS_LABELS = {
    ApplicationStatus.DRAFT: "brouillon",
    ApplicationStatus.SUBMITTED: "déposée",
    ApplicationStatus.ACCEPTED: "retenue",
    ApplicationStatus.REFUSED: "refusée",
}
# A refusal needs its reason: `applications.refuse` asks for it (the table's moves need none otherwise).
APPLICATION_MACHINE = StateMachine(
    kind="cofunding_application",
    states=ApplicationStatus,
    moves={
        ApplicationStatus.DRAFT: frozenset({ApplicationStatus.SUBMITTED}),
        ApplicationStatus.SUBMITTED: frozenset({ApplicationStatus.ACCEPTED, ApplicationStatus.REFUSED}),
        ApplicationStatus.ACCEPTED: frozenset(),
        ApplicationStatus.REFUSED: frozenset(),
    },
    labels=APPLICATION_STATUS_LABELS,
    refusal="La candidature n° {record.id} est {current} : elle ne peut pas être {target}.",
    reason_required=False,
)


class CofundingCall(Base):
    """A call for projects: a funder pays `share_bp` of the passes ordered, within `envelope_cents`."""

    __tablename__ = "cofunding_call"
    __table_args__ = (
        CheckConstraint("share_bp BETWEEN 1 AND 10000", name="share_range"),
        CheckConstraint("envelope_cents > 0", name="envelope_positive"),
        CheckConstraint("committed_cents >= 0 AND committed_cents <= envelope_cents", name="envelope_not_overspent"),
        CheckConstraint("closes_on >= opens_on", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    funder: Mapped[str] = mapped_column(String(200), default=DEFAULT_FUNDER)
    share_bp: Mapped[int] = mapped_column(Integer, default=DEFAULT_SHARE_BP)
    envelope_cents: Mapped[int] = mapped_column(BigInteger)
    committed_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    opens_on: Mapped[date]
    closes_on: Mapped[date]  # last day on which an application may be submitted, Europe/Paris
    eligible_kinds: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_ELIGIBLE_KINDS))
    required_sections: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_SECTIONS))
    status: Mapped[CallStatus] = mapped_column(_enum(CallStatus, "cofunding_call_status"), default=CallStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    applications: Mapped[list[CofundingApplication]] = relationship(
        back_populates="call", order_by="CofundingApplication.id")

    @property
    def remaining_cents(self) -> int:
        return self.envelope_cents - self.committed_cents


class CofundingApplication(Base):
    """A sponsor's (or a group's) application to a call; `lead` leads, `members` lists everyone, lead included."""

    __tablename__ = "cofunding_application"
    __table_args__ = (
        CheckConstraint("priority_publics >= 0 AND precarity_publics >= 0", name="publics_not_negative"),
        CheckConstraint("budget_cents >= 0", name="budget_not_negative"),
        CheckConstraint("granted_cents >= 0", name="granted_not_negative"),
        CheckConstraint("status = 'accepted' OR granted_cents = 0", name="granted_only_if_accepted"),
        CheckConstraint("status <> 'refused' OR decision_reason IS NOT NULL", name="refusal_has_reason"),
        Index("ix_cofunding_application_call_id", "call_id"),
        Index("ix_cofunding_application_lead_id", "lead_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("cofunding_call.id", ondelete="RESTRICT"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    status: Mapped[ApplicationStatus] = mapped_column(
        _enum(ApplicationStatus, "cofunding_application_status"), default=ApplicationStatus.DRAFT)
    # Target publics: how many people of each half, and how they will be reached.
    priority_publics: Mapped[int] = mapped_column(Integer, default=0)  # priority publics of the skills plan (PIC)
    precarity_publics: Mapped[int] = mapped_column(Integer, default=0)  # great digital precarity (seniors…)
    how_to_reach: Mapped[str] = mapped_column(Text, default="")
    # [{"level": "departement", "code": "33"}, …]: territories of the platform
    area: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    structuring: Mapped[str] = mapped_column(Text, default="")
    european_funds: Mapped[str] = mapped_column(Text, default="")
    partners: Mapped[str] = mapped_column(Text, default="")
    budget_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    budget_notes: Mapped[str] = mapped_column(Text, default="")
    granted_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    call: Mapped[CofundingCall] = relationship(back_populates="applications")
    lead: Mapped[Organisation] = relationship()
    members: Mapped[list[CofundingMember]] = relationship(
        back_populates="application", order_by="CofundingMember.organisation_id", cascade="all, delete-orphan")


class CofundingMember(Base):
    """An organisation applying, with the kind of authority it declares."""

    __tablename__ = "cofunding_member"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("cofunding_application.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), primary_key=True)
    kind: Mapped[AuthorityKind] = mapped_column(_enum(AuthorityKind, "authority_kind"))

    application: Mapped[CofundingApplication] = relationship(back_populates="members")
    organisation: Mapped[Organisation] = relationship()
