"""GeoJSON features of the cartography's JSON API."""

from __future__ import annotations

from typing import Any

from flask import url_for

from directory import api
from directory.models import Venue


def venue_properties(venue: Venue, open_now: bool | None) -> dict[str, Any]:
    return {
        "id": venue.id,
        "nom": venue.nom,
        "adresse": {
            "adresse": venue.adresse,
            "complement_adresse": venue.complement_adresse,
            "code_postal": venue.code_postal,
            "commune": venue.commune,
            "code_insee": venue.code_insee,
        },
        "services": [{"slug": s.slug, "nom": s.label, "niveau": s.level_number} for s in venue.services],
        "niveaux": venue.levels,
        "horaires": venue.horaires,
        "ouvert_maintenant": open_now,
        "accepte_pass": venue.accepts_pass,
        "telephone": venue.telephone,
        "courriels": venue.courriels,
        "site_web": venue.site_web,
        "prise_rdv": venue.prise_rdv,
        "frais_a_charge": venue.frais_a_charge,
        "modalites_accompagnement": venue.modalites_accompagnement,
        "modalites_acces": venue.modalites_acces,
        "publics_specifiquement_adresses": venue.publics_specifiquement_adresses,
        "prise_en_charge_specifique": venue.prise_en_charge_specifique,
        "fiche_acces_libre": venue.fiche_acces_libre,
        "source": venue.source,
        "date_maj": venue.date_maj.isoformat() if venue.date_maj else None,
        "url": url_for("maps.venue_page", venue_id=venue.id, _external=True),
    }


def _feature(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": properties["id"],
        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        "properties": properties,
    }


def nearby_collection(result: api.NearbyResult) -> dict[str, Any]:
    features = []
    for item in result.venues:
        properties = {"distance_m": round(item.distance_m, 1), **venue_properties(item.venue, item.open_now)}
        properties = {"id": properties.pop("id"), "nom": properties.pop("nom"), **properties}
        features.append(_feature(item.lon, item.lat, properties))
    return {
        "type": "FeatureCollection",
        "recherche": {
            "lieu": result.place.label,
            "lon": result.place.lon,
            "lat": result.place.lat,
            "code_insee": result.place.commune_code,
            "rayon_m": result.radius_m,
            "nombre": len(features),
        },
        "features": features,
    }
