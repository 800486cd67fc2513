"""The records every domain shares: territories, referential, organisations, venues, accounts, audit."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.db import SRID, Base, utcnow


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: a VARCHAR with a CHECK on both backends, values stored as-is."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class TerritoryLevel(enum.StrEnum):
    REGION = "region"
    DEPARTEMENT = "departement"
    EPCI = "epci"
    COMMUNE = "commune"


class Territory(Base):
    """A région, département, EPCI or commune of the COG, with its population and geometry."""

    __tablename__ = "territory"
    __table_args__ = (
        UniqueConstraint("level", "code"),
        Index("ix_territory_region_code", "region_code"),
        Index("ix_territory_departement_code", "departement_code"),
        Index("ix_territory_epci_code", "epci_code"),
        Index("ix_territory_search_name", "level", "search_name"),
        CheckConstraint("population >= 0", name="population_not_negative"),
        CheckConstraint("tncc BETWEEN 0 AND 8", name="tncc_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[TerritoryLevel] = mapped_column(_enum(TerritoryLevel, "territory_level"))
    code: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(200))
    tncc: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int] = mapped_column(Integer, default=0)
    region_code: Mapped[str | None] = mapped_column(String(2))
    departement_code: Mapped[str | None] = mapped_column(String(3))
    epci_code: Mapped[str | None] = mapped_column(String(9))
    centre: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=True), nullable=True
    )
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=True
    )
    vintage: Mapped[str] = mapped_column(String(16))

    postcodes: Mapped[list[TerritoryPostcode]] = relationship(
        back_populates="commune", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Territory {self.level} {self.code} {self.name}>"


class TerritoryPostcode(Base):
    __tablename__ = "territory_postcode"
    __table_args__ = (Index("ix_territory_postcode_postcode", "postcode"),)

    commune_id: Mapped[int] = mapped_column(
        ForeignKey("territory.id", ondelete="CASCADE"), primary_key=True
    )
    postcode: Mapped[str] = mapped_column(String(5), primary_key=True)

    commune: Mapped[Territory] = relationship(back_populates="postcodes")


class TerritoryAlias(Base):
    """Another INSEE code that designates a current commune (arrondissement, former commune)."""

    __tablename__ = "territory_alias"

    alias: Mapped[str] = mapped_column(String(5), primary_key=True)
    commune_code: Mapped[str] = mapped_column(String(5))
    kind: Mapped[str] = mapped_column(String(32))


class ReferentialVersion(Base):
    """Each load of the service referential, so a change of labels is traceable."""

    __tablename__ = "referential_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    checksum: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceLevel(Base):
    __tablename__ = "service_level"
    __table_args__ = (CheckConstraint("number BETWEEN 1 AND 3", name="level_number"),)

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(String(200))


class Service(Base):
    """A service of the APTIC national referential."""

    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    level_number: Mapped[int] = mapped_column(ForeignKey("service_level.number"))
    label: Mapped[str] = mapped_column(String(300))
    standard_services: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=True)

    level: Mapped[ServiceLevel] = relationship()


class LegalForm(enum.StrEnum):
    ASSOCIATION = "association"
    COMPANY = "entreprise"
    LOCAL_AUTHORITY = "collectivite"
    PUBLIC_BODY = "etablissement_public"
    COOPERATIVE = "cooperative"
    OTHER = "autre"


class Organisation(Base):
    """A legal entity; it may sponsor, distribute passes and operate venues at once."""

    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint("siret IS NOT NULL OR rna IS NOT NULL", name="has_legal_identifier"),
        CheckConstraint(
            "is_sponsor OR is_distributor OR is_venue_operator OR is_aptic", name="has_role"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    legal_form: Mapped[LegalForm] = mapped_column(_enum(LegalForm, "legal_form"))
    siret: Mapped[str | None] = mapped_column(String(14), unique=True)
    rna: Mapped[str | None] = mapped_column(String(10), unique=True)
    is_sponsor: Mapped[bool] = mapped_column(default=False)
    is_distributor: Mapped[bool] = mapped_column(default=False)
    is_venue_operator: Mapped[bool] = mapped_column(default=False)
    is_aptic: Mapped[bool] = mapped_column(default=False)
    # May hand out booklets but not redeem cheques (Maisons France Services, by the scheme's rules).
    distribution_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    address: Mapped[str | None] = mapped_column(String(300))
    code_insee: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    venues: Mapped[list[Venue]] = relationship(back_populates="organisation")

    @property
    def roles(self) -> list[str]:
        flags = {
            "commanditaire": self.is_sponsor,
            "aiguilleur": self.is_distributor,
            "lieu": self.is_venue_operator,
            "aptic": self.is_aptic,
        }
        return [role for role, held in flags.items() if held]


class VenueStatus(enum.StrEnum):
    CANDIDATE = "candidate"
    QUALIFIED = "qualified"
    SUSPENDED = "suspended"
    DEQUALIFIED = "dequalified"
    CLOSED = "closed"


VENUE_STATUS_LABELS = {
    VenueStatus.CANDIDATE: "Candidat",
    VenueStatus.QUALIFIED: "Qualifié APTIC",
    VenueStatus.SUSPENDED: "Suspendu",
    VenueStatus.DEQUALIFIED: "Déqualifié",
    VenueStatus.CLOSED: "Fermé",
}


class Venue(Base):
    """A "point de présence" of an organisation: the national venue standard plus APTIC facts."""

    __tablename__ = "venue"
    __table_args__ = (
        Index("ix_venue_status", "status"),
        Index("ix_venue_code_insee", "code_insee"),
        CheckConstraint("length(code_postal) = 5", name="code_postal_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    nom: Mapped[str] = mapped_column(String(300))
    adresse: Mapped[str] = mapped_column(String(300))
    complement_adresse: Mapped[str | None] = mapped_column(String(300))
    code_postal: Mapped[str] = mapped_column(String(5))
    commune: Mapped[str] = mapped_column(String(200))
    code_insee: Mapped[str | None] = mapped_column(String(5))
    location: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=True), nullable=True
    )
    geocoding_score: Mapped[float | None]
    horaires: Mapped[str | None] = mapped_column(Text)
    telephone: Mapped[str | None] = mapped_column(String(20))
    courriels: Mapped[list[str]] = mapped_column(JSON, default=list)
    site_web: Mapped[list[str]] = mapped_column(JSON, default=list)
    pivot: Mapped[str | None] = mapped_column(String(14))
    typologie: Mapped[list[str]] = mapped_column(JSON, default=list)
    presentation_resume: Mapped[str | None] = mapped_column(Text)
    presentation_detail: Mapped[str | None] = mapped_column(Text)
    structure_parente: Mapped[str | None] = mapped_column(String(300))
    itinerance: Mapped[list[str]] = mapped_column(JSON, default=list)
    standard_services: Mapped[list[str]] = mapped_column(JSON, default=list)
    publics_specifiquement_adresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    prise_en_charge_specifique: Mapped[list[str]] = mapped_column(JSON, default=list)
    frais_a_charge: Mapped[list[str]] = mapped_column(JSON, default=list)
    dispositif_programmes_nationaux: Mapped[list[str]] = mapped_column(JSON, default=list)
    formations_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    autres_formations_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    modalites_acces: Mapped[list[str]] = mapped_column(JSON, default=list)
    modalites_accompagnement: Mapped[list[str]] = mapped_column(JSON, default=list)
    fiche_acces_libre: Mapped[str | None] = mapped_column(String(500))
    prise_rdv: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(200))
    date_maj: Mapped[date | None]
    accepts_pass: Mapped[bool] = mapped_column(default=False)
    aptic_label: Mapped[bool] = mapped_column(default=False)
    status: Mapped[VenueStatus] = mapped_column(
        _enum(VenueStatus, "venue_status"), default=VenueStatus.CANDIDATE
    )
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # On the public cartography (map, search API). Only the weekly rebuild changes it, in one
    # transaction, so the public sees either the previous cartography or the new one.
    published: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Distributes booklets but may not redeem cheques (France Services by default, see
    # directory.venues.distribution_only_by_default); staff can change it.
    distribution_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation | None] = relationship(back_populates="venues")
    services: Mapped[list[Service]] = relationship(
        secondary="venue_service", order_by="Service.position"
    )
    sources: Mapped[list[VenueSource]] = relationship(
        back_populates="venue", cascade="all, delete-orphan"
    )

    @property
    def levels(self) -> list[int]:
        return sorted({service.level_number for service in self.services})


class VenueService(Base):
    __tablename__ = "venue_service"

    venue_id: Mapped[int] = mapped_column(
        ForeignKey("venue.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class VenueSource(Base):
    """Where a venue record came from: one row per (source, id in that source)."""

    __tablename__ = "venue_source"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(100))
    source_id: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    venue: Mapped[Venue] = relationship(back_populates="sources")


class Role(enum.StrEnum):
    APTIC_STAFF = "aptic_staff"
    SPONSOR = "sponsor"
    DISTRIBUTOR = "distributor"
    VENUE_STAFF = "venue_staff"


ROLE_LABELS = {
    Role.APTIC_STAFF: "Équipe APTIC",
    Role.SPONSOR: "Commanditaire",
    Role.DISTRIBUTOR: "Aiguilleur",
    Role.VENUE_STAFF: "Personnel du lieu",
}


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Written into each browser session; bumping it ends every session opened before.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What a browser session remembers: the account and its session version (see `accounts.active_user`)."""
        return f"{self.id}:{self.session_version}"

    def has_role(self, role: Role, organisation_id: int | None = None) -> bool:
        return any(
            m.role == role and (organisation_id is None or m.organisation_id == organisation_id)
            for m in self.memberships
        )


class Membership(Base):
    """A user acting for an organisation in one role."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(_enum(Role, "membership_role"))

    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship()


class ApiKey(Base):
    """A machine credential: the prefix finds the row, only a hash of the secret is kept."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship()
    venue: Mapped[Venue | None] = relationship()


class AuditEvent(Base):
    """Append-only: database triggers refuse UPDATE and DELETE on this table."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_target", "target_type", "target_id"),
        Index("ix_audit_event_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id")
    )
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
