"""JSON answers of the cartography's API: GeoJSON features and records, and the shapes documented for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import url_for
from marshmallow import Schema, fields, validate

from directory import api
from directory.models import Territory, Venue
from maps.clusters import MapAnswer
from maps.public import TerritoryOverview


def venue_properties(venue: Venue, open_now: bool | None) -> dict[str, Any]:
    """A venue's public record: the national standard's fields, its services and whether it is open."""
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


def point_feature(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
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
        features.append(point_feature(item.lon, item.lat, properties))
    return {
        "type": "FeatureCollection",
        "recherche": {
            "lieu": result.place.label,
            "lon": result.place.lon,
            "lat": result.place.lat,
            "code_insee": result.place.commune_code,
            "rayon_m": result.radius_m,
            "nombre": len(features),
            "total": result.total,
            "total_exact": result.total_exact,
            "offset": result.offset,
            "suivant": result.next_offset,
            "avertissement": result.place.notice,
        },
        "features": features,
    }


def venue_feature(venue: Venue, now: datetime) -> dict[str, Any]:
    """A venue as a GeoJSON Feature (no geometry when unlocated), with its opening hours of the week."""
    lon, lat = api.venue_coordinates(venue) or (None, None)
    properties = venue_properties(venue, api.is_open_at(venue, now))
    week = api.week_hours(venue, now.astimezone(api.venue_timezone(venue)).date())
    properties["semaine"] = (
        [{"jour": day.day.isoformat(), "periodes": [list(p) for p in day.periods]} for day in week] if week else None
    )
    if lon is None:
        return {"type": "Feature", "id": venue.id, "geometry": None, "properties": properties}
    return point_feature(lon, lat, properties)


def territory_record(overview: TerritoryOverview) -> dict[str, Any]:
    territory: Territory = overview.territory
    return {
        "niveau": territory.level.value,
        "code": territory.code,
        "nom": territory.name,
        "population": territory.population,
        "code_region": territory.region_code,
        "code_departement": territory.departement_code,
        "code_epci": territory.epci_code,
        "lieux_qualifies": overview.venue_count,
        "url": url_for("maps.territory_page", level=territory.level.value, code=territory.code, _external=True),
    }


def map_area_collection(answer: MapAnswer) -> dict[str, Any]:
    """The visible map area: light venue markers, or clusters (with the venues of cells holding one)."""
    prefix = url_for("maps.venue_page", venue_id=0)[:-1]
    clusters = [
        {
            "type": "Feature",
            "bbox": [round(edge, 6) for edge in c.bbox],
            "geometry": {"type": "Point", "coordinates": [round(c.lon, 6), round(c.lat, 6)]},
            "properties": {"lieux": c.count},
        }
        for c in answer.clusters
    ]
    venues = [
        {
            "type": "Feature",
            "id": v["id"],
            "geometry": {"type": "Point", "coordinates": [round(v["lon"], 6), round(v["lat"], 6)]},
            "properties": {"id": v["id"], "nom": v["nom"], "commune": v["commune"], "url": f"{prefix}{v['id']}"},
        }
        for v in answer.venues
    ]
    return {
        "type": "FeatureCollection",
        "contenu": "lieux" if answer.cell_deg is None else "groupes",
        "total": answer.total,
        "maille_deg": answer.cell_deg,
        "features": clusters + venues,
    }


# ------------------------------------------------------------------ documented shapes (OpenAPI)


def _nullable(field: type[fields.Field], description: str = "", **kwargs: Any) -> fields.Field:
    return field(allow_none=True, metadata={"description": description} if description else {}, **kwargs)


def _uri() -> fields.Field:
    return fields.String(metadata={"format": "uri"})


class VenueServiceSchema(Schema):
    slug = fields.String()
    nom = fields.String()
    niveau = fields.Integer()


class VenuePropertiesSchema(Schema):
    id = fields.Integer()
    nom = fields.String()
    distance_m = fields.Float(metadata={"description": "Distance au point de recherche, en mètres"})
    adresse = fields.Dict(metadata={"description": "adresse, complement_adresse, code_postal, commune, code_insee"})
    services = fields.List(fields.Nested(VenueServiceSchema))
    niveaux = fields.List(fields.Integer())
    horaires = _nullable(fields.String, "Horaires au format OpenStreetMap opening_hours")
    ouvert_maintenant = _nullable(fields.Boolean, "null quand les horaires sont inconnus")
    accepte_pass = fields.Boolean()
    semaine = _nullable(fields.List, "Horaires des sept jours de la semaine (fiche d'un lieu seulement)",
                        cls_or_instance=fields.Dict())
    date_maj = _nullable(fields.Date)
    url = _uri()
    # The venue sheet's fields of the national schema (GET /venues/{id} only).
    telephone = _nullable(fields.String)
    courriels = fields.List(fields.String())
    site_web = fields.List(fields.String())
    prise_rdv = _nullable(fields.String)
    frais_a_charge = fields.List(fields.String())
    modalites_accompagnement = fields.List(fields.String())
    modalites_acces = fields.List(fields.String())
    publics_specifiquement_adresses = fields.List(fields.String())
    prise_en_charge_specifique = fields.List(fields.String())
    fiche_acces_libre = _nullable(fields.String)
    source = _nullable(fields.String)


class VenueFeatureSchema(Schema):
    type = fields.String(validate=validate.OneOf(["Feature"]))
    id = fields.Integer()
    geometry = _nullable(fields.Dict)
    properties = fields.Nested(VenuePropertiesSchema)


class NearbySearchSummarySchema(Schema):
    lieu = fields.String()
    lon = fields.Float()
    lat = fields.Float()
    code_insee = _nullable(fields.String)
    rayon_m = fields.Float()
    nombre = fields.Integer(metadata={"description": "Lieux de cette page"})
    total = fields.Integer(metadata={"description": "Lieux correspondant à la recherche, toutes pages comprises"})
    total_exact = fields.Boolean(metadata={"description": "Faux quand le compte s'est arrêté : plus de « total » "
                                                          "lieux correspondent"})
    offset = fields.Integer(metadata={"description": "Rang du premier lieu de la page (0 pour le plus proche)"})
    suivant = _nullable(fields.Integer, "« offset » de la page suivante ; null sur la dernière page")
    avertissement = _nullable(fields.String, "Comment la recherche a été comprise quand elle diffère de la saisie "
                                             "(adresse introuvable ou service d'adresses indisponible : la commune "
                                             "de la recherche)")


class NearbyVenuesSchema(Schema):
    type = fields.String(validate=validate.OneOf(["FeatureCollection"]))
    recherche = fields.Nested(NearbySearchSummarySchema)
    features = fields.List(fields.Nested(VenueFeatureSchema))


class PlaceSuggestionSchema(Schema):
    type = fields.String(validate=validate.OneOf(["commune", "adresse"]))
    libelle = fields.String(metadata={"description": "Ce que la liste montre et ce que la recherche reçoit"})
    lon = fields.Float()
    lat = fields.Float()
    code_insee = _nullable(fields.String)
    detail = _nullable(fields.String, "Code postal d'une commune, commune d'une adresse")


class PlaceSuggestionsSchema(Schema):
    q = fields.String()
    suggestions = fields.List(fields.Nested(PlaceSuggestionSchema))
    avertissement = _nullable(fields.String, "Présent quand le service d'adresses ne répond pas")


def suggestion_collection(found: Any) -> dict[str, Any]:
    return {
        "q": found.query,
        "suggestions": [
            {"type": s.kind, "libelle": s.label, "lon": round(s.lon, 6), "lat": round(s.lat, 6),
             "code_insee": s.code_insee, "detail": s.detail}
            for s in found.items
        ],
        "avertissement": found.notice,
    }


class TerritorySchema(Schema):
    niveau = fields.String()
    code = fields.String()
    nom = fields.String()
    population = fields.Integer()
    code_region = _nullable(fields.String)
    code_departement = _nullable(fields.String)
    code_epci = _nullable(fields.String)
    lieux_qualifies = fields.Integer()
    url = _uri()


class MapBubbleSchema(Schema):
    code = fields.String()
    nom = fields.String()
    lon = fields.Float()
    lat = fields.Float()
    lieux = fields.Integer()


class MapBubblesSchema(Schema):
    niveau = fields.String()
    territoires = fields.List(fields.Nested(MapBubbleSchema))


class MapAreaSchema(Schema):
    type = fields.String(validate=validate.OneOf(["FeatureCollection"]))
    contenu = fields.String(validate=validate.OneOf(["lieux", "groupes"]), metadata={
        "description": "« lieux » : chaque lieu de la zone ; « groupes » : au-delà du seuil, les lieux comptés par "
                       "maille (et les lieux seuls dans leur maille)"})
    total = fields.Integer(metadata={"description": "Lieux dans la zone, groupés ou non"})
    maille_deg = _nullable(fields.Float, "Côté d'une maille en degrés (null pour « lieux »)")
    features = fields.List(fields.Dict(), metadata={"description": (
        "Un lieu : Point, id, propriétés id, nom, commune, url. Un groupe : Point à la position moyenne de ses lieux, "
        "« bbox » [ouest, sud, est, nord] de ses lieux (pour zoomer dessus), propriété « lieux » (leur nombre) ; "
        "les groupes viennent avant les lieux")})


class CoverageAccessSchema(Schema):
    niveau = fields.Integer()
    distance_km = fields.Float()
    population = fields.Integer()
    part = _nullable(fields.Float, "Entre 0 et 1")


class CoverageBeyondSchema(Schema):
    niveau = fields.Integer()
    distance_km = fields.Float()
    communes = fields.Integer(metadata={"description": "Communes dont le centre est à plus de distance_km de tout lieu "
                                                       "du niveau (ou sans centre connu)"})
    population = fields.Integer()
    part = _nullable(fields.Float, "Entre 0 et 1")
    phrase = fields.String(metadata={"description": "La même chose en une phrase, en français"})


class ZoneBlancheSchema(Schema):
    code = fields.String()
    nom = fields.String()
    population = fields.Integer()
    distance_km = _nullable(fields.Float)
    indice_fragilite = _nullable(fields.Float)


class ZonesBlanchesSchema(Schema):
    definition = fields.String()
    niveau = fields.Integer()
    distance_km = fields.Float()
    communes = fields.Integer()
    population = fields.Integer()
    part = _nullable(fields.Float)
    liste = fields.List(fields.Nested(ZoneBlancheSchema))


class DensityComparisonSchema(Schema):
    niveau = fields.String()
    code = fields.String()
    nom = fields.String()
    lieux = fields.Integer()
    population = fields.Integer()
    lieux_pour_10000 = _nullable(fields.Float)
    accessibilite_e2sfca = _nullable(fields.Float)


class DensitySchema(Schema):
    lieux_pour_10000 = _nullable(fields.Float)
    accessibilite_e2sfca = _nullable(
        fields.Float, "Lieux qualifiés accessibles pour 10 000 habitants (E2SFCA), moyenne des communes pondérée "
                      "par la population")
    comparaisons = fields.List(fields.Nested(DensityComparisonSchema))


class CoverageAreaSchema(Schema):
    niveau = fields.String()
    code = fields.String()
    nom = fields.String()


class CoverageVenuesSchema(Schema):
    total = fields.Integer()
    par_niveau = fields.Dict(keys=fields.String(), values=fields.Integer())


class CoverageSchema(Schema):
    territoire = fields.Nested(CoverageAreaSchema)
    calcule_le = fields.DateTime()
    communes = fields.Integer()
    population = fields.Integer()
    population_sans_centre = fields.Integer(metadata={"description": "Communes sans point central connu"})
    lieux = fields.Nested(CoverageVenuesSchema)
    acces = fields.List(fields.Nested(CoverageAccessSchema))
    au_dela = fields.List(fields.Nested(CoverageBeyondSchema))
    zones_blanches = fields.Nested(ZonesBlanchesSchema)
    densite = fields.Nested(DensitySchema)
    fragilite_numerique = _nullable(fields.Dict, "Indice de fragilité numérique (1 faible à 10 forte), s'il est chargé")
    url = _uri()
