"""Query-string parsing of the cartography's pages and API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request
from sqlalchemy.orm import Session

from directory import api
from directory.db import PARIS_TZ
from directory.errors import InvalidInput, NotFound
from maps.places import search_place

TRUE_VALUES = {"1", "true", "oui", "on", "yes"}
FALSE_VALUES = {"0", "false", "non", "off", "no", ""}


def _bad_parameter(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, field=name, code="invalid_parameter", status=400)


def _arg_float(name: str) -> float | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        raise _bad_parameter(name, f"Le paramètre « {name} » doit être un nombre (reçu « {raw} »).") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _bad_parameter(name, f"Le paramètre « {name} » doit être un nombre fini (reçu « {raw} »).")
    return value


def _arg_int(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _bad_parameter(name, f"Le paramètre « {name} » doit être un nombre entier (reçu « {raw} »).") from None


def _arg_bool(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw in TRUE_VALUES:
        return True
    if raw in FALSE_VALUES:
        return False
    raise _bad_parameter(name, f"Le paramètre « {name} » vaut « true » ou « false » (reçu « {raw} »).")


def _arg_list(name: str) -> list[str]:
    return [part.strip() for value in request.args.getlist(name) for part in value.split(",") if part.strip()]


def _arg_datetime(name: str) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _bad_parameter(
            name, f"Le paramètre « {name} » doit être une date et heure ISO 8601, ex. 2026-11-23T14:30 (reçu « {raw} »)."
        ) from None
    # A time without offset is a time in France (metropolitan), as people read it.
    return value if value.tzinfo else value.replace(tzinfo=PARIS_TZ)


def nearby_arguments(session: Session) -> dict[str, Any]:
    """The keyword arguments of `directory.api.nearby_venues` from the query string."""
    lat, lon = _arg_float("lat"), _arg_float("lon")
    query = request.args.get("q", "").strip()
    arguments: dict[str, Any] = {}
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            missing = "lat" if lat is None else "lon"
            raise _bad_parameter(missing, f"Indiquez « lat » et « lon » ensemble (« {missing} » manque).")
        arguments.update(lat=lat, lon=lon)
    elif query:
        arguments["place"] = search_place(session, query)
    else:
        raise InvalidInput("Indiquez une commune, un code postal, une adresse, ou « lat » et « lon ».",
                           field="q", code="required", status=400)
    radius = _arg_float("radius_km")
    limit = _arg_int("limit")
    if radius is not None:
        arguments["radius_km"] = radius
    if limit is not None:
        arguments["limit"] = limit
    arguments.update(
        service=_arg_list("service"),
        level=_arg_int("level"),
        fees=_arg_list("fees"),
        support=_arg_list("support"),
        public=_arg_list("public"),
        care=_arg_list("care"),
        open_now=_arg_bool("open_now"),
        open_at=_arg_datetime("open_at"),
        accepts_pass=_arg_bool("accepts_pass"),
    )
    return arguments


def run_nearby_search(session: Session) -> api.NearbyResult:
    try:
        return api.nearby_venues(session, **nearby_arguments(session))
    except (InvalidInput, NotFound) as error:
        error.status = 400  # every error here is about a query parameter
        raise
