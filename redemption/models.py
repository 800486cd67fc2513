"""The money path: orders, booklets, cheques, distribution, redemptions, statements, fee rules.

The invariants that protect money live in the database too: a cheque code is unique, a cheque
has at most one active redemption (partial unique index), amounts are checked, and statement
numbers are unique and taken gaplessly inside the closing transaction.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.db import Base, utcnow
from directory.models import Organisation, Service, Venue, _enum
from directory.transitions import StateMachine

MAX_ID = 2**31 - 1  # an INTEGER key; a larger number from a URL names nothing


class OrderStatus(enum.StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    PAID = "paid"
    ISSUED = "issued"
    CLOSED = "closed"


ORDER_STATUS_LABELS = {
    OrderStatus.DRAFT: "Brouillon",
    OrderStatus.CONFIRMED: "Confirmée",
    OrderStatus.PAID: "Payée",
    OrderStatus.ISSUED: "Émise",
    OrderStatus.CLOSED: "Clôturée",
}
ORDER_MACHINE = StateMachine(
    kind="order",
    states=OrderStatus,
    moves={
        OrderStatus.DRAFT: frozenset({OrderStatus.CONFIRMED}),
        OrderStatus.CONFIRMED: frozenset({OrderStatus.PAID}),
        OrderStatus.PAID: frozenset({OrderStatus.ISSUED}),
        OrderStatus.ISSUED: frozenset({OrderStatus.CLOSED}),
        OrderStatus.CLOSED: frozenset(),
    },
    # The refusal names statuses by their code, as the CLI commands and their JSON output do.
    labels={status: status.value for status in OrderStatus},
    refusal="La commande n° {record.id} est au statut « {current} » : elle ne peut pas passer au statut « {target} ».",
    reason_required=False,
)


class ChequeStatus(enum.StrEnum):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    CANCELLED = "cancelled"


# Cheques change status in bulk (a delivery, a lost booklet): the UPDATEs select their rows with
# `StateMachine.states_moving_to`, so the table below is the one place that says which moves exist.
CHEQUE_MACHINE = StateMachine(
    kind="cheque",
    states=ChequeStatus,
    moves={
        ChequeStatus.ISSUED: frozenset({ChequeStatus.REDEEMED, ChequeStatus.CANCELLED}),
        ChequeStatus.REDEEMED: frozenset({ChequeStatus.ISSUED}),  # its redemption was cancelled
        ChequeStatus.CANCELLED: frozenset(),
    },
    labels={ChequeStatus.ISSUED: "émis", ChequeStatus.REDEEMED: "encaissé", ChequeStatus.CANCELLED: "annulé"},
    refusal="Le chèque {record.code} est {current} : il ne peut pas devenir {target}.",
    reason_required=False,
    stamp=None,
)


class RedemptionStatus(enum.StrEnum):
    REDEEMED = "redeemed"
    CANCELLED = "cancelled"
    REIMBURSED = "reimbursed"


REDEMPTION_MACHINE = StateMachine(
    kind="redemption",
    states=RedemptionStatus,
    moves={
        RedemptionStatus.REDEEMED: frozenset({RedemptionStatus.CANCELLED, RedemptionStatus.REIMBURSED}),
        RedemptionStatus.CANCELLED: frozenset(),
        RedemptionStatus.REIMBURSED: frozenset(),
    },
    labels={RedemptionStatus.REDEEMED: "encaissé", RedemptionStatus.CANCELLED: "annulé",
            RedemptionStatus.REIMBURSED: "remboursé"},
    refusal="L'encaissement n° {record.id} est {current} : il ne peut pas devenir {target}.",
    reason_required=False,
    stamp=None,
)


class FeeRuleKind(enum.StrEnum):
    ORDER_FEE_BP = "order_fee_bp"  # APTIC's fee on the face value ordered, in basis points
    COMMISSION_BP = "commission_bp"  # kept on the face value redeemed at a venue, in basis points
    MONTHLY_FEE_CENTS = "monthly_fee_cents"  # due by a venue every month from its first redemption
    VAT_RATE_BP = "vat_rate_bp"  # VAT included in APTIC's commission and monthly fee, in basis points
    ORDER_MINIMUM_CENTS = "order_minimum_cents"  # face value of a sponsor's first order on a territory
    VINTAGE_EXPIRY_MMDD = "vintage_expiry_mmdd"  # last day of use in the year after the vintage (131 = 31 Jan)


class FeeRule(Base):
    """A dated rule (a rate, an amount, a date) with its validity period; a new value is a new row, the past is
    never rewritten."""

    __tablename__ = "fee_rule"
    __table_args__ = (
        UniqueConstraint("kind", "valid_from"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint("valid_until IS NULL OR valid_until > valid_from", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[FeeRuleKind] = mapped_column(_enum(FeeRuleKind, "fee_rule_kind"))
    value: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date]
    valid_until: Mapped[date | None]  # exclusive


class Order(Base):
    """A sponsor's order of booklets: what is bought, where and until when it can be used."""

    __tablename__ = "pass_order"
    __table_args__ = (
        CheckConstraint("booklet_count > 0", name="booklet_count_positive"),
        CheckConstraint("cheques_per_booklet BETWEEN 1 AND 50", name="cheques_per_booklet_range"),
        CheckConstraint("cheque_value_cents > 0", name="cheque_value_positive"),
        CheckConstraint("face_value_cents = booklet_count * cheques_per_booklet * cheque_value_cents",
                        name="face_value_consistent"),
        CheckConstraint("fee_cents >= 0", name="fee_not_negative"),
        # Co-funding (redemption/shares.py): the funder's and the sponsor's shares make up the face value.
        CheckConstraint("funder_share_cents >= 0 AND sponsor_share_cents >= 0", name="shares_not_negative"),
        CheckConstraint("funder_share_cents + sponsor_share_cents = face_value_cents", name="shares_add_up"),
        CheckConstraint("funder_share_bp BETWEEN 0 AND 10000", name="funder_share_range"),
        CheckConstraint("application_id IS NOT NULL OR funder_share_cents = 0", name="funder_share_needs_application"),
        CheckConstraint("vintage BETWEEN 2000 AND 2999", name="vintage_range"),
        Index("ix_pass_order_sponsor_id", "sponsor_id"),
        Index("ix_pass_order_application_id", "application_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"), default=OrderStatus.DRAFT)
    booklet_count: Mapped[int] = mapped_column(Integer)
    cheques_per_booklet: Mapped[int] = mapped_column(Integer, default=10)
    cheque_value_cents: Mapped[int] = mapped_column(Integer, default=1000)
    face_value_cents: Mapped[int] = mapped_column(Integer)
    fee_rate_bp: Mapped[int] = mapped_column(Integer)
    fee_cents: Mapped[int] = mapped_column(Integer)
    vintage: Mapped[int] = mapped_column(Integer)  # "millésime": the year the passes belong to
    expires_on: Mapped[date]  # last day of use, Europe/Paris, at most what the vintage rule gives
    # [{"level": "departement", "code": "33"}, …]: where the cheques may be used
    territories: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    # referential levels allowed (1, 2, 3); empty means every level
    allowed_levels: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The co-funding application covering the order (redemption/applications.py); its shares are set when the
    # application is accepted, until then the sponsor's share is the whole face value.
    application_id: Mapped[int | None] = mapped_column(ForeignKey("cofunding_application.id", ondelete="RESTRICT"))
    funder_share_bp: Mapped[int] = mapped_column(Integer, default=0)
    funder_share_cents: Mapped[int] = mapped_column(Integer, default=0)
    sponsor_share_cents: Mapped[int] = mapped_column(Integer)
    requires_distribution: Mapped[bool] = mapped_column(default=True)
    # Staff's reason for accepting a first order on a territory below the minimum amount.
    minimum_exception: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[datetime | None]

    sponsor: Mapped[Organisation] = relationship()
    application: Mapped[CofundingApplication | None] = relationship()
    booklets: Mapped[list[Booklet]] = relationship(back_populates="order", order_by="Booklet.sequence")


class Booklet(Base):
    __tablename__ = "booklet"
    __table_args__ = (
        UniqueConstraint("order_id", "sequence"),
        # Kept from the first schema; `beneficiary_claim` enforces the wider rule (one per person per vintage).
        UniqueConstraint("order_id", "distributor_id", "beneficiary_ref"),
        CheckConstraint(
            "(distributed_at IS NULL AND distributor_id IS NULL AND beneficiary_ref IS NULL) OR "
            "(distributed_at IS NOT NULL AND distributor_id IS NOT NULL AND beneficiary_ref IS NOT NULL)",
            name="distribution_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("pass_order.id", ondelete="RESTRICT"))
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    # The beneficiary's keyed pseudonym (see redemption.beneficiaries), never who the person is.
    beneficiary_ref: Mapped[str | None] = mapped_column(String(64))
    distributed_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="booklets")
    distributor: Mapped[Organisation | None] = relationship()
    cheques: Mapped[list[Cheque]] = relationship(back_populates="booklet", order_by="Cheque.position")


class DistributionAllowance(Base):
    """A sponsor allows a distributor organisation to hand out the booklets of one of its orders, all of
    them or those of one range of sequence numbers (both ends included)."""

    __tablename__ = "distribution_allowance"
    __table_args__ = (
        UniqueConstraint("order_id", "distributor_id"),
        CheckConstraint("(first_sequence IS NULL) = (last_sequence IS NULL)", name="range_complete"),
        CheckConstraint("first_sequence IS NULL OR (first_sequence >= 1 AND last_sequence >= first_sequence)",
                        name="range_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("pass_order.id", ondelete="CASCADE"))
    distributor_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), index=True)
    first_sequence: Mapped[int | None] = mapped_column(Integer)
    last_sequence: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship()
    distributor: Mapped[Organisation] = relationship()

    def covers(self, sequence: int) -> bool:
        return self.first_sequence is None or self.first_sequence <= sequence <= (self.last_sequence or 0)


class BeneficiaryClaim(Base):
    """A person served with a booklet of a vintage, known only by a keyed pseudonym of their identity.

    The unique constraint is the database's last word on "one booklet per person per vintage", across
    all orders and distributors; undoing the distribution deletes the row, which frees the pseudonym.
    """

    __tablename__ = "beneficiary_claim"
    __table_args__ = (UniqueConstraint("vintage", "pseudonym"),)

    booklet_id: Mapped[int] = mapped_column(ForeignKey("booklet.id", ondelete="CASCADE"), primary_key=True)
    vintage: Mapped[int] = mapped_column(Integer)
    pseudonym: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256, hexadecimal
    distributor_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    distributor: Mapped[Organisation] = relationship()


class Cheque(Base):
    __tablename__ = "cheque"
    __table_args__ = (
        UniqueConstraint("booklet_id", "position"),
        CheckConstraint("value_cents > 0", name="value_positive"),
        Index("ix_cheque_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    booklet_id: Mapped[int] = mapped_column(ForeignKey("booklet.id", ondelete="RESTRICT"))
    order_id: Mapped[int] = mapped_column(ForeignKey("pass_order.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(Integer)
    value_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[ChequeStatus] = mapped_column(_enum(ChequeStatus, "cheque_status"), default=ChequeStatus.ISSUED)

    booklet: Mapped[Booklet] = relationship(back_populates="cheques")
    order: Mapped[Order] = relationship()


class ClosedMonth(Base):
    """A month whose statements are all closed: months are closed in order, each once."""

    __tablename__ = "closed_month"
    __table_args__ = (CheckConstraint("statement_count >= 0", name="statement_count_not_negative"),)

    month: Mapped[date] = mapped_column(primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)
    statement_count: Mapped[int] = mapped_column(Integer)


class Statement(Base):
    """A venue's monthly reimbursement statement; `sequence` is gapless across all statements.

    `net_cents` is the month's own result; what the venue owed from the previous statement comes in as
    `carried_in_cents`. A negative balance is carried out to the next statement, except on the final
    statement of a venue leaving the scheme, where it is the amount due to APTIC.
    """

    __tablename__ = "statement"
    __table_args__ = (
        UniqueConstraint("venue_id", "month"),
        CheckConstraint("sequence > 0", name="sequence_positive"),
        CheckConstraint("gross_cents >= 0 AND commission_cents >= 0 AND fee_cents >= 0", name="amounts_not_negative"),
        CheckConstraint("net_cents = gross_cents - commission_cents - fee_cents", name="net_consistent"),
        CheckConstraint("cheque_count >= 0", name="cheque_count_not_negative"),
        CheckConstraint("carried_in_cents >= 0", name="carried_in_not_negative"),
        CheckConstraint("carried_out_cents = CASE WHEN final OR net_cents - carried_in_cents >= 0 THEN 0 "
                        "ELSE carried_in_cents - net_cents END", name="carried_out_consistent"),
        CheckConstraint("vat_rate_bp BETWEEN 0 AND 10000", name="vat_rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, unique=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="RESTRICT"))
    month: Mapped[date]  # first day of the month, Europe/Paris
    cheque_count: Mapped[int] = mapped_column(Integer)
    gross_cents: Mapped[int] = mapped_column(Integer)
    commission_rate_bp: Mapped[int] = mapped_column(Integer)
    commission_cents: Mapped[int] = mapped_column(Integer)
    fee_cents: Mapped[int] = mapped_column(Integer)
    net_cents: Mapped[int] = mapped_column(Integer)
    carried_in_cents: Mapped[int] = mapped_column(Integer, default=0)
    carried_out_cents: Mapped[int] = mapped_column(Integer, default=0)
    final: Mapped[bool] = mapped_column(default=False)
    vat_rate_bp: Mapped[int] = mapped_column(Integer)
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)

    venue: Mapped[Venue] = relationship()

    @property
    def balance_cents(self) -> int:
        """Paid to the venue when positive; carried to the next statement (or due, if final) when negative."""
        return self.net_cents - self.carried_in_cents

    @property
    def paid_cents(self) -> int:
        return max(self.balance_cents, 0)

    @property
    def due_cents(self) -> int:
        """Owed to APTIC now: only a final statement asks for it, others carry it."""
        return -self.balance_cents if self.final and self.balance_cents < 0 else 0


class Redemption(Base):
    """One delivery at a venue: one or two cheques of the same booklet for one service."""

    __tablename__ = "redemption"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("cheque_count BETWEEN 1 AND 2", name="cheque_count_range"),
        CheckConstraint("(status = 'reimbursed') = (statement_id IS NOT NULL)", name="reimbursed_in_statement"),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_at_set"),
        Index("ix_redemption_venue_created", "venue_id", "created_at"),
        Index("ix_redemption_created_at", "created_at"),
        Index("ix_redemption_statement_id", "statement_id"),
        Index("ix_redemption_booklet_id", "booklet_id"),  # signals and journeys read a booklet's redemptions
        # A delivery queued offline is sent again until it gets an answer: its key names it once per venue.
        # Partial: a month's close rewrites every delivery, the many without a key need no entry here.
        Index("ux_redemption_venue_idempotency_key", "venue_id", "idempotency_key", unique=True,
              sqlite_where=text("idempotency_key IS NOT NULL"), postgresql_where=text("idempotency_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="RESTRICT"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="RESTRICT"))
    booklet_id: Mapped[int] = mapped_column(ForeignKey("booklet.id", ondelete="RESTRICT"))
    order_id: Mapped[int] = mapped_column(ForeignKey("pass_order.id", ondelete="RESTRICT"), index=True)
    cheque_count: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[RedemptionStatus] = mapped_column(
        _enum(RedemptionStatus, "redemption_status"), default=RedemptionStatus.REDEEMED
    )
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statement.id", ondelete="RESTRICT"))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))

    venue: Mapped[Venue] = relationship()
    service: Mapped[Service] = relationship()
    booklet: Mapped[Booklet] = relationship()
    lines: Mapped[list[RedemptionCheque]] = relationship(back_populates="redemption", order_by="RedemptionCheque.cheque_id")


MAX_CHEQUES_PER_SERVICE = 2  # per booklet, over all its active deliveries ("deux chèques au plus")


class RedemptionCheque(Base):
    """A cheque of a delivery. The partial unique indexes are the database's last word on double use
    and on the two cheques a booklet may spend on one service (a cancelled delivery frees its slots)."""

    __tablename__ = "redemption_cheque"
    __table_args__ = (
        Index(
            "uq_redemption_cheque_active_cheque", "cheque_id", unique=True,
            sqlite_where=text("active"), postgresql_where=text("active"),
        ),
        Index(
            "uq_redemption_cheque_active_service_slot", "booklet_id", "service_id", "service_slot", unique=True,
            sqlite_where=text("active"), postgresql_where=text("active"),
        ),
        # NULL only for lines recorded before the rule (they may exceed it); never for a new line.
        CheckConstraint(f"service_slot BETWEEN 1 AND {MAX_CHEQUES_PER_SERVICE}", name="service_slot_range"),
    )

    redemption_id: Mapped[int] = mapped_column(ForeignKey("redemption.id", ondelete="CASCADE"), primary_key=True)
    cheque_id: Mapped[int] = mapped_column(ForeignKey("cheque.id", ondelete="RESTRICT"), primary_key=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Copied from the redemption so that one partial index can count a booklet's cheques per service.
    booklet_id: Mapped[int] = mapped_column(ForeignKey("booklet.id", ondelete="RESTRICT"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="RESTRICT"))
    service_slot: Mapped[int | None] = mapped_column(Integer)

    redemption: Mapped[Redemption] = relationship(back_populates="lines")
    cheque: Mapped[Cheque] = relationship()



# ------------------------------------------------------------- vigilance: refused scans, signals, controls


class ScanRefusal(Base):
    """A scan the API refused for a scanner key (unknown code, already redeemed…): what bursts of guessing
    are counted from. Only the key, the venue, the error code and the time: never the code scanned."""

    __tablename__ = "scan_refusal"
    __table_args__ = (Index("ix_scan_refusal_actor_created", "actor", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignalKind(enum.StrEnum):
    HOURLY_VOLUME = "hourly_volume"  # more per hour than a venue's staff could serve
    UNUSUAL_VOLUME = "unusual_volume"  # a day far above the venue's own usual volume
    OUTSIDE_HOURS = "outside_hours"  # redeemed while the venue's opening hours say closed
    FAR_APART = "far_apart"  # one booklet in venues far apart on the same Paris day
    REFUSAL_BURST = "refusal_burst"  # many refused scans on one key within an hour (guessing)
    DISTRIBUTOR_CONCENTRATION = "distributor_concentration"  # a venue's redemptions from one distributor's booklets
    QUICK_AFTER_DISTRIBUTION = "quick_after_distribution"  # redeemed minutes after the booklet was handed out


SIGNAL_KIND_LABELS = {
    SignalKind.HOURLY_VOLUME: "Volume horaire élevé",
    SignalKind.UNUSUAL_VOLUME: "Volume inhabituel",
    SignalKind.OUTSIDE_HOURS: "Hors des horaires d'ouverture",
    SignalKind.FAR_APART: "Un carnet dans des lieux éloignés le même jour",
    SignalKind.REFUSAL_BURST: "Rafale de scans refusés",
    SignalKind.DISTRIBUTOR_CONCENTRATION: "Concentration sur un aiguilleur",
    SignalKind.QUICK_AFTER_DISTRIBUTION: "Encaissé juste après la remise",
}


class SignalStatus(enum.StrEnum):
    OPEN = "open"
    JUSTIFIED = "justified"
    TO_INVESTIGATE = "to_investigate"


SIGNAL_STATUS_LABELS = {SignalStatus.OPEN: "ouvert", SignalStatus.JUSTIFIED: "justifié",
                        SignalStatus.TO_INVESTIGATE: "à instruire"}

SIGNAL_MACHINE = StateMachine(
    kind="signal",
    states=SignalStatus,
    moves={
        SignalStatus.OPEN: frozenset({SignalStatus.JUSTIFIED, SignalStatus.TO_INVESTIGATE}),
        # once instructed, a signal may still be found justified; a justified one is closed
        SignalStatus.TO_INVESTIGATE: frozenset({SignalStatus.JUSTIFIED}),
        SignalStatus.JUSTIFIED: frozenset(),
    },
    labels=SIGNAL_STATUS_LABELS,
    refusal="Le signal n° {record.id} est « {current} » : il ne peut pas devenir « {target} ».",
    reason_required=True,
)


class Signal(Base):
    """A suspicious pattern found in the redemptions, with its rule, its figures and the redemptions behind it.

    `fingerprint` names the pattern (kind, subject, period): computing again updates an open signal
    instead of adding a second one."""

    __tablename__ = "redemption_signal"
    __table_args__ = (
        Index("ix_redemption_signal_status", "status"),
        Index("ix_redemption_signal_venue_id", "venue_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[SignalKind] = mapped_column(_enum(SignalKind, "signal_kind"))
    status: Mapped[SignalStatus] = mapped_column(_enum(SignalStatus, "signal_status"), default=SignalStatus.OPEN)
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"))
    booklet_id: Mapped[int | None] = mapped_column(ForeignKey("booklet.id", ondelete="CASCADE"))
    actor: Mapped[str | None] = mapped_column(String(200))  # the API key of a burst of refusals
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    rule: Mapped[str] = mapped_column(String(500))
    explanation: Mapped[str] = mapped_column(String(1000))
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    redemption_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    venue: Mapped[Venue | None] = relationship()
    booklet: Mapped[Booklet | None] = relationship()


class ControlStatus(enum.StrEnum):
    PROPOSED = "proposed"
    PASSED = "passed"
    FAILED = "failed"
    WAIVED = "waived"


CONTROL_STATUS_LABELS = {ControlStatus.PROPOSED: "proposé", ControlStatus.PASSED: "conforme",
                         ControlStatus.FAILED: "non conforme", ControlStatus.WAIVED: "abandonné"}

CONTROL_MACHINE = StateMachine(
    kind="control",
    states=ControlStatus,
    moves={
        ControlStatus.PROPOSED: frozenset({ControlStatus.PASSED, ControlStatus.FAILED, ControlStatus.WAIVED}),
        ControlStatus.PASSED: frozenset(),
        ControlStatus.FAILED: frozenset(),
        ControlStatus.WAIVED: frozenset(),
    },
    labels=CONTROL_STATUS_LABELS,
    refusal="Le contrôle n° {record.id} est « {current} » : il ne peut pas devenir « {target} ».",
    reason_required=True,
)


class Control(Base):
    """A control of a qualified venue proposed for a month (documents re-checked, a visit) and its outcome."""

    __tablename__ = "venue_control"
    __table_args__ = (
        UniqueConstraint("venue_id", "month"),
        CheckConstraint("weight >= 1", name="weight_positive"),
        CheckConstraint("(status = 'proposed') = (outcome_at IS NULL)", name="outcome_recorded"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"))
    month: Mapped[date]  # first day of the month, Europe/Paris
    weight: Mapped[int] = mapped_column(Integer)  # 1 + the venue's signals of the last three months
    signal_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[ControlStatus] = mapped_column(_enum(ControlStatus, "control_status"), default=ControlStatus.PROPOSED)
    documents_checked: Mapped[bool] = mapped_column(default=False)
    visited: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str | None] = mapped_column(String(2000))
    venue_suspended: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome_at: Mapped[datetime | None]

    venue: Mapped[Venue] = relationship()


# Co-funding tables (calls, applications), in their own module; imported here so the schema knows them.
from redemption.cofunding_models import CofundingApplication  # noqa: E402
