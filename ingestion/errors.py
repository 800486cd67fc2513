"""Errors of the importers, with a stable code and a French message."""

from __future__ import annotations

from directory.errors import DomainError, InvalidInput


class GeocoderUnavailable(DomainError):
    """The address API did not answer; imports go on and report the rows left without a point."""

    code = "geocoder_unavailable"
    status = 503


class UnreadableFile(InvalidInput):
    """A file that is not CSV or JSON in a known format; no row of it is imported."""

    code = "unreadable_file"


class UnknownMapping(InvalidInput):
    code = "unknown_mapping"


class TerritoryBuildError(Exception):
    """The compact copy cannot be built; the message is in French for the operator."""
