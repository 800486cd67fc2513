"""The published venues in other open formats, and the checks every published file passes.

- the national standard v1.0.1 (rows from ingestion.exports), checked against the schema file
  shipped in ingestion/schemas (required fields, patterns, lengths, numbers, dates);
- data·inclusion « structures » and « services » (PyPI `data-inclusion-schema`, v1), validated
  with its pydantic models. The pass acceptance has no field there: it is written in each
  service's `frais_precisions`, and in the structure's description.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Any

from data_inclusion.schema import v1 as di

from ingestion import standard

DI_SOURCE = "aptic"
PASS_SENTENCE = "Accepte le Pass numérique APTIC (chèques APTIC) pour ses ateliers et accompagnements."
THEMATIQUES = {
    "Aide aux démarches administratives": "numerique--acceder-a-des-services-en-ligne",
    "Maîtrise des outils numériques du quotidien": "numerique--maitriser-les-fondamentaux-du-numerique",
    "Compréhension du monde numérique": "numerique--maitriser-les-fondamentaux-du-numerique",
    "Insertion professionnelle via le numérique": "numerique--maitriser-les-fondamentaux-du-numerique",
    "Accès internet et matériel informatique": "numerique--acceder-a-une-connexion-internet",
    "Acquisition de matériel informatique à prix solidaire": "numerique--acquerir-un-equipement",
    "Loisirs et créations numériques": "numerique--maitriser-les-fondamentaux-du-numerique",
    "Parentalité et éducation avec le numérique": "numerique--maitriser-les-fondamentaux-du-numerique",
}
PUBLICS = {"Seniors": "seniors", "Jeunes": "jeunes", "Femmes": "femmes", "Familles et/ou enfants": "familles"}
RESEAUX = {"France Services": "france-service", "Conseillers numériques": "conseillers-numeriques",
           "Aidants Connect": "aidants-connect"}


# ------------------------------------------------------------------ schema v1.0.1, the project's own check


@cache
def _v1_fields() -> list[dict[str, Any]]:
    return standard.schema(standard.V1)["fields"]


def v1_errors(rows: list[dict[str, Any]]) -> list[str]:
    """Every breach of schema v1.0.1 in the rows (as written to CSV: lists joined with |)."""
    errors = []
    patterns = standard.patterns(standard.V1)
    seen: set[str] = set()
    for index, row in enumerate(rows, start=1):
        for spec in _v1_fields():
            name, constraints = spec["name"], spec.get("constraints", {})
            value = row.get(name)
            text = "" if value is None else str(value)
            if not text:
                if constraints.get("required"):
                    errors.append(f"ligne {index} : « {name} » obligatoire")
                continue
            if name in patterns and not patterns[name].fullmatch(text):
                errors.append(f"ligne {index} : « {name} » = « {text} » ne suit pas le motif du schéma")
            if "maxLength" in constraints and len(text) > constraints["maxLength"]:
                errors.append(f"ligne {index} : « {name} » dépasse {constraints['maxLength']} caractères")
            if spec.get("type") == "number":
                try:
                    float(text)
                except ValueError:
                    errors.append(f"ligne {index} : « {name} » n'est pas un nombre")
            if spec.get("type") == "date":
                try:
                    date.fromisoformat(text)
                except ValueError:
                    errors.append(f"ligne {index} : « {name} » n'est pas une date AAAA-MM-JJ")
        if row.get("id") in seen:
            errors.append(f"ligne {index} : id « {row.get('id')} » en double")
        seen.add(row.get("id"))
    return errors


# ------------------------------------------------------------------ data·inclusion


def _clip(text: str | None, limit: int) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"


def _name(text: str) -> str:
    name = _clip(text, 150) or ""
    name = name.rstrip(".") if not name.endswith("etc.") else name
    return name if len(name) >= 3 else f"{name} (lieu)"


def structure(row: dict[str, Any], accepts_pass: bool) -> dict[str, Any]:
    """One v1.0.1 row (exports.venue_row) as a data·inclusion structure."""
    description = row.get("presentation_detail") or row.get("presentation_resume") or ""
    if accepts_pass:
        description = f"{description} {PASS_SENTENCE}".strip()
    pivot = row.get("pivot") or ""
    lists = {name: _list(row, name) for name in ("courriels", "site_web", "dispositif_programmes_nationaux")}
    reseaux = sorted({RESEAUX[value] for value in lists["dispositif_programmes_nationaux"] if value in RESEAUX})
    return _without_none({
        "source": DI_SOURCE,
        "id": f"{DI_SOURCE}--{row['id']}",
        "nom": _name(row["nom"]),
        "date_maj": row["date_maj"],
        "description": _clip(description, 10_000) if len(description) >= 5 else None,
        "lien_source": None,
        "siret": pivot if re.fullmatch(r"\d{14}", pivot) and not standard.PLACEHOLDER_PIVOT.match(pivot) else None,
        **_place(row),
        "courriel": lists["courriels"][0] if lists["courriels"] else None,
        "site_web": lists["site_web"][0] if lists["site_web"] else None,
        "horaires_accueil": row.get("horaires"),
        "accessibilite_lieu": row.get("fiche_acces_libre"),
        "reseaux_porteurs": reseaux or None,
    })


def _place(row: dict[str, Any]) -> dict[str, Any]:
    """Where a structure or one of its services is, and its phone: the same fields in both formats."""
    return {
        "commune": row["commune"],
        "code_postal": row["code_postal"],
        "code_insee": row.get("code_insee"),
        "adresse": row["adresse"],
        "complement_adresse": row.get("complement_adresse"),
        "longitude": row.get("longitude"),
        "latitude": row.get("latitude"),
        "telephone": row.get("telephone"),
    }


def services(row: dict[str, Any], accepts_pass: bool) -> list[dict[str, Any]]:
    """One data·inclusion service per service of the standard the venue offers."""
    found = []
    publics = sorted({PUBLICS[value] for value in _list(row, "publics_specifiquement_adresses") if value in PUBLICS})
    fees = _list(row, "frais_a_charge")
    workshop = "Dans un atelier collectif" in _list(row, "modalites_accompagnement")
    for label in _list(row, "services"):
        slug = re.sub(r"[^a-z0-9]+", "-", standard_slug(label)).strip("-")
        found.append(_without_none({
            "source": DI_SOURCE,
            "structure_id": f"{DI_SOURCE}--{row['id']}",
            "id": f"{DI_SOURCE}--{row['id']}--{slug}",
            "nom": _name(label),
            "description": f"{label} à {_name(row['nom'])} ({row['commune']}).",
            "date_maj": row["date_maj"],
            "type": "atelier" if workshop else "accompagnement",
            "thematiques": [THEMATIQUES[label]] if label in THEMATIQUES else None,
            "frais": "gratuit" if "Gratuit" in fees else "payant" if "Payant" in fees else None,
            "frais_precisions": PASS_SENTENCE if accepts_pass else None,
            "publics": publics or ["tous-publics"],
            **_place(row),
            "courriel": (_list(row, "courriels") or [None])[0],
            "modes_accueil": ["en-presentiel"],
            "horaires_accueil": row.get("horaires"),
        }))
    return found


def standard_slug(label: str) -> str:
    import unicodedata

    return "".join(ch for ch in unicodedata.normalize("NFKD", label.lower()) if not unicodedata.combining(ch))


def _list(row: dict[str, Any], name: str) -> list[str]:
    """A multi-value field of a v1.0.1 row (written « a|b »)."""
    value = row.get(name)
    if isinstance(value, str):
        return [item for item in value.split("|") if item]
    return list(value or [])


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


REQUIRED_DI = {"source", "id", "structure_id", "nom", "date_maj", "description"}


def fit(kind: str, item: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The item with the optional fields data·inclusion refuses left out (e.g. an e-mail address its
    validator finds invalid), and the names of those fields."""
    import pydantic

    model = di.Structure if kind == "structures" else di.Service
    dropped: list[str] = []
    for _ in range(len(item)):
        try:
            model.model_validate(item, context={"ignore_warnings": False})
            return item, dropped
        except pydantic.ValidationError as error:
            names = {str(problem["loc"][0]) for problem in error.errors() if problem["loc"]}
            optional = names - REQUIRED_DI
            if not optional:
                return item, dropped
            item = {key: value for key, value in item.items() if key not in optional}
            dropped += sorted(optional)
    return item, dropped


def di_errors(kind: str, items: list[dict[str, Any]]) -> list[str]:
    """data·inclusion validation errors (with warnings as errors) of structures or services."""
    model = di.Structure if kind == "structures" else di.Service
    errors = []
    for item in items:
        try:
            model.model_validate(item, context={"ignore_warnings": False})
        except Exception as error:  # pydantic.ValidationError
            errors.append(f"{item.get('id')} : {error}".splitlines()[0] + " " + " ".join(str(error).splitlines()[1:3]))
    return errors
