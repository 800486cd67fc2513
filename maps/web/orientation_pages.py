"""The orientation flow (/orientation) and its printable "fiche d'orientation": answers in the URL, nothing stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import render_template, request, url_for

from directory import api, params
from directory.db import utcnow
from directory.errors import DomainError
from directory.models import Role
from directory.navigation import menu_entry
from directory.web import limit_anonymous, request_session
from maps.orientation import (
    BRING, NEEDS, SKILLS, WHEN, advise, orientation_venues, phone_for_print, week_for_sheet,
)
from maps.public import public_venue, service_levels
from maps.web.inputs import OrientationAnswers
from maps.web.pages import bp

menu_entry(Role.DISTRIBUTOR, "Orienter une personne", "maps.orientation",
           "Quelques questions simples, les lieux proches qui acceptent le pass, une fiche à imprimer", order=15)


def _answers_query(answers: dict[str, Any], *names: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name in names:
        value = answers.get(name)
        for item in value if isinstance(value, list) else [value]:
            if item not in (None, ""):
                pairs.append((name, str(item)))
    return pairs


@bp.get("/orientation")
def orientation() -> Any:
    session = request_session()
    error = None
    advice = result = None
    relaxed = False
    try:
        answers = params.parse(OrientationAnswers)
        answered = bool(answers["besoin"] or answers["sait"])
        if answered:
            advice = advise(session, answers["besoin"], answers["sait"])
        has_place = any(answers[name] for name in ("q", "commune")) or answers["lat"] is not None
        if advice is not None and has_place:
            search = {name: answers[name] for name in ("q", "lat", "lon", "commune")}
            result, relaxed = orientation_venues(
                session, advice, search={**search, "care": answers["care"]}, when=answers["quand"],
                before_geocoding=limit_anonymous("geocoding", "GEOCODING_RATE_LIMIT"))
    except DomainError as exc:
        error = exc
        answers = {name: request.args.getlist(name) if name in ("besoin", "care") else request.args.get(name, "")
                   for name in ("besoin", "sait", "q", "lat", "lon", "commune", "quand", "care")}
    sheet_query = urlencode(_answers_query(answers, "besoin", "sait", "quand"))
    return render_template(
        "maps/orientation.html", answers=answers, advice=advice, result=result, relaxed=relaxed, error=error,
        needs=NEEDS, skills=SKILLS, when=WHEN, care_values=api.NEARBY_LIST_FILTERS["care"][1],
        levels=service_levels(session), sheet_query=sheet_query,
        restart_url=url_for("maps.orientation"),
        suggestions_url=url_for("maps_api.place_suggestions_view"),
    ), (error.status if error is not None else 200)


@bp.get("/orientation/fiche/<int:venue_id>")
def orientation_sheet(venue_id: int) -> str:
    session = request_session()
    venue = public_venue(session, venue_id)
    answers = params.parse(OrientationAnswers)
    advice = advise(session, answers["besoin"], answers["sait"])
    offered = {service.slug for service in venue.services}
    services = [s for s in advice.services if s.slug in offered] or \
        [s for s in venue.services if s.level_number == advice.level]
    now = utcnow()
    sheet_url = url_for("maps.orientation_sheet", venue_id=venue.id, _external=True) + (
        "?" + request.query_string.decode() if request.query_string else "")
    return render_template(
        "maps/orientation_sheet.html", venue=venue, advice=advice, services=services, bring=BRING,
        week=week_for_sheet(venue, now), today=now, phone=phone_for_print(venue.telephone), sheet_url=sheet_url, needs=NEEDS,
        back_url=url_for("maps.orientation") + ("?" + request.query_string.decode() if request.query_string else ""),
    )
