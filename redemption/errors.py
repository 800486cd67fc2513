"""Refusals of the pass: each with its stable machine code and HTTP status (see the API doc)."""

from __future__ import annotations

from directory.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401


class InvalidCode(InvalidInput):
    code = "invalid_code"


class TooManyCheques(InvalidInput):
    code = "too_many_cheques"


class MixedBooklets(InvalidInput):
    code = "mixed_booklets"


class UnknownCode(NotFound):
    code = "unknown_code"


class Gone(DomainError):
    status = 410


class ChequeCancelled(Gone):
    code = "cancelled"


class ChequeExpired(Gone):
    code = "expired"


class AlreadyRedeemed(Conflict):
    code = "already_redeemed"


class NotDistributed(Forbidden):
    code = "not_distributed"


class VenueNotQualified(Forbidden):
    code = "venue_not_qualified"


class OutsideTerritory(Forbidden):
    code = "outside_territory"


class ServiceNotAllowed(Forbidden):
    code = "service_not_allowed"


class ServiceLimitReached(Conflict):
    code = "service_limit_reached"


class VenueCannotRedeem(Forbidden):
    code = "venue_cannot_redeem"


class DistributorNotAllowed(Forbidden):
    code = "distributor_not_allowed"


class BeneficiaryAlreadyServed(Conflict):
    code = "beneficiary_already_served"
