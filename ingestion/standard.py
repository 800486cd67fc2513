"""The national venue standard ("schéma de données des lieux de médiation numérique").

Reads CSV and JSON files in v1.0.x or v0.1.x, maps v0.1 onto v1, and cleans each row field by
field with the cleaners of the venue field specification (`directory.venue_fields`); the schema
files shipped in `ingestion/schemas/` (etalab-2.0) give the columns and the v0.1 vocabularies.
Nothing here touches the database: the importer resolves communes, points and duplicates.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from directory.api import REQUIRED_FIELDS, VENUE_FIELD, VENUE_FIELDS, FieldKind, venue_field_names
from directory.errors import InvalidInput
from ingestion import dates, recovery
from ingestion.errors import UnreadableFile

SCHEMAS_DIR = Path(__file__).parent / "schemas"
V1 = "1.0"
V01 = "0.1"
OUTPUT_VERSION = "1.0.1"
PLACEHOLDER_PIVOT = re.compile(r"^0+$")
RESUME_MAX = VENUE_FIELD["presentation_resume"].max_length
# Free texts longer than their limit are cut, with a warning; the summary is shortened on a word instead.
TEXT_LIMITS = {
    spec.name: spec.max_length
    for spec in VENUE_FIELDS
    if spec.kind is FieldKind.TEXT and spec.max_length and spec.normalise is None and spec.name != "presentation_resume"
}
HUB_WARNINGS = "_avertissements"  # set by hub mappings (ingestion.hubs.WARNINGS_KEY)
ID_MAX = 200  # venue_source.source_id
# Columns only v0.1 had; several v1 files still carry them.
V01_ONLY_COLUMNS = {"cle_ban", "courriel", "publics_accueillis", "conditions_acces", "labels_nationaux",
                    "labels_autres", "accessibilite"}
V1_ONLY_COLUMNS = {"courriels", "itinerance", "publics_specifiquement_adresses", "prise_en_charge_specifique",
                   "frais_a_charge", "dispositif_programmes_nationaux", "formations_labels",
                   "autres_formations_labels", "modalites_acces", "fiche_acces_libre"}

SERVICES_V01_TO_V1 = {
    "Devenir autonome dans les démarches administratives": "Aide aux démarches administratives",
    "Réaliser des démarches administratives avec un accompagnement": "Aide aux démarches administratives",
    "Accompagner les démarches de santé": "Aide aux démarches administratives",
    "Prendre en main un smartphone ou une tablette": "Maîtrise des outils numériques du quotidien",
    "Prendre en main un ordinateur": "Maîtrise des outils numériques du quotidien",
    "Utiliser le numérique au quotidien": "Maîtrise des outils numériques du quotidien",
    "Approfondir ma culture numérique": "Compréhension du monde numérique",
    "Promouvoir la citoyenneté numérique": "Compréhension du monde numérique",
    "Favoriser mon insertion professionnelle": "Insertion professionnelle via le numérique",
    "Créer et développer mon entreprise": "Insertion professionnelle via le numérique",
    "Accéder à une connexion internet": "Accès internet et matériel informatique",
    "Accéder à du matériel": "Accès internet et matériel informatique",
    "S'équiper en matériel informatique": "Acquisition de matériel informatique à prix solidaire",
    "Créer avec le numérique": "Loisirs et créations numériques",
    "Soutenir la parentalité et l'éducation avec le numérique": "Parentalité et éducation avec le numérique",
}
# v0.1 "publics_accueillis" value (text before " : ") -> (v1 field, v1 value); "Adultes" has no v1 value.
PUBLICS_V01_TO_V1 = {
    "Seniors (+ 65 ans)": ("publics_specifiquement_adresses", "Seniors"),
    "Familles/enfants": ("publics_specifiquement_adresses", "Familles et/ou enfants"),
    "Jeunes (16-26 ans)": ("publics_specifiquement_adresses", "Jeunes"),
    "Uniquement femmes": ("publics_specifiquement_adresses", "Femmes"),
    "Public langues étrangères": ("prise_en_charge_specifique", "Langues étrangères (autres)"),
    "Déficience visuelle": ("prise_en_charge_specifique", "Déficience visuelle"),
    "Surdité": ("prise_en_charge_specifique", "Surdité"),
    "Handicaps psychiques": ("prise_en_charge_specifique", "Handicaps mentaux"),
    "Handicaps mentaux": ("prise_en_charge_specifique", "Handicaps mentaux"),
    "Personnes en situation d'illettrisme": ("prise_en_charge_specifique", "Illettrisme"),
}
CONDITIONS_V01_TO_V1 = {
    "Gratuit": "Gratuit",
    "Gratuit sous condition": "Gratuit sous condition",
    "Payant": "Payant",
    "Adhésion": "Payant",
    # v1 dropped the pass: it falls under "Gratuit sous condition"; APTIC keeps accepts_pass.
    "Accepte le Pass numérique": "Gratuit sous condition",
}
PASS_CONDITION = "Accepte le Pass numérique"
ACCOMPAGNEMENT_V01_TO_V1 = {
    "Seul": "En autonomie",
    "Avec de l'aide": "Accompagnement individuel",
    "Dans un atelier": "Dans un atelier collectif",
    "A ma place": "Accompagnement individuel",
}
APTIC_LABEL = "APTIC"
LABELS_V01_TO_V1 = {
    "France Services": ("dispositif_programmes_nationaux", "France Services"),
    "CNFS": ("dispositif_programmes_nationaux", "Conseillers numériques"),
    "Aidants Connect": ("dispositif_programmes_nationaux", "Aidants Connect"),
    "Grandes écoles du numérique": ("dispositif_programmes_nationaux", "Grande école du numérique"),
    "Point relais CAF": ("dispositif_programmes_nationaux", "Point d'accès numérique CAF"),
    "Point numérique CAF": ("dispositif_programmes_nationaux", "Point d'accès numérique CAF"),
    "Fabriques de Territoire": ("formations_labels", "Fabriques de Territoire"),
}
# How the APTIC facts are written in v1 output, in the free field the standard leaves for labels.
APTIC_LABEL_TEXT = "APTIC"
PASS_TEXT = "Pass numérique APTIC accepté"

# The fields of a cleaned record (dates as ISO text), from the venue field specification.
RECORD_TEXT_FIELDS = venue_field_names(FieldKind.TEXT, FieldKind.DATE)
RECORD_LIST_FIELDS = venue_field_names(FieldKind.LIST)
RECORD_FLAG_FIELDS = venue_field_names(FieldKind.FLAG)


@dataclass
class Issue:
    """A line of the import report."""

    level: str  # "rejet", "avertissement", "fusion"
    field: str
    value: Any
    message: str


@dataclass
class CleanRow:
    line: int
    source_id: str
    record: dict[str, Any] | None  # None when rejected
    issues: list[Issue] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------- schemas


@cache
def schema(version: str) -> dict[str, Any]:
    name = "schema-v1.0.1.json" if version == V1 else "schema-v0.1.1.json"
    return json.loads((SCHEMAS_DIR / name).read_text(encoding="utf-8"))


@cache
def field_names(version: str = V1) -> tuple[str, ...]:
    return tuple(item["name"] for item in schema(version)["fields"])


@cache
def patterns(version: str) -> dict[str, re.Pattern[str]]:
    return {
        item["name"]: re.compile(item["constraints"]["pattern"])
        for item in schema(version)["fields"]
        if item.get("constraints", {}).get("pattern")
    }


@cache
def allowed_values(version: str, name: str) -> tuple[str, ...]:
    """The enumeration inside a multi-value pattern such as `(?:(?:^|\\|)(A|B))+$`."""
    pattern = patterns(version)[name].pattern
    inner = pattern[pattern.index(")(") + 2 : pattern.rindex("))+$")]
    return tuple(re.sub(r"\\(.)", r"\1", value) for value in re.split(r"(?<!\\)\|", inner))


@cache
def allowed_set(version: str, name: str) -> frozenset[str]:
    return frozenset(allowed_values(version, name))


def separator(version: str) -> str:
    return "|" if version == V1 else ";"


# ------------------------------------------------------------------------------------- readers


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _without_control_characters(raw: dict[str, Any], issues: list[Issue]) -> dict[str, Any]:
    """NUL and other control characters are dropped from text cells, each with a warning: a row is never
    lost, nor a whole file aborted, for an invisible character."""
    cleaned = dict(raw)
    for name, value in raw.items():
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            cleaned[name] = CONTROL_CHARACTERS.sub("", value)
            issues.append(Issue("avertissement", str(name), cleaned[name],
                                f"Caractères de contrôle (invisibles) supprimés du champ « {name} »."))
    return cleaned


def _csv_rows(path: Path, handle) -> list[dict[str, Any]]:
    header = handle.readline()
    handle.seek(0)
    # The standard says comma; semicolon files exist (spreadsheet exports).
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(handle, delimiter=delimiter, restkey="_colonnes_en_trop")
    try:
        columns = reader.fieldnames or []
        doubled = sorted({name for name in columns if columns.count(name) > 1})
        if doubled:
            raise UnreadableFile(f"Le fichier {path.name} a des colonnes en double : {', '.join(doubled)}. "
                                 "Gardez une seule colonne de chaque nom.", field="fichier", code="duplicate_column")
        return list(reader)
    except csv.Error as error:
        too_large = "field larger than field limit" in str(error)
        reason = (f"un champ dépasse {csv.field_size_limit() // 1024} Kio" if too_large
                  else "ce n'est pas un fichier CSV de texte (contenu binaire ou guillemets non fermés)")
        raise UnreadableFile(f"Le fichier {path.name} est illisible à la ligne {reader.line_num} : {reason}.",
                             field="fichier") from None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV (comma, UTF-8, header) or JSON (array of objects) file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if isinstance(data, dict) and isinstance(data.get("data"), list):
                data = data["data"]
            if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
                raise UnreadableFile(
                    f"Le fichier {path.name} n'est pas un tableau JSON d'objets.", field="fichier"
                )
            return data
        if suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return _csv_rows(path, handle)
    except RecursionError:
        raise UnreadableFile(f"Le fichier {path.name} imbrique trop de niveaux de tableaux ou d'objets JSON.",
                             field="fichier") from None
    except UnicodeDecodeError:
        raise UnreadableFile(f"Le fichier {path.name} n'est pas encodé en UTF-8.", field="fichier") from None
    except json.JSONDecodeError as error:
        raise UnreadableFile(
            f"Le fichier {path.name} n'est pas un JSON valide (ligne {error.lineno}).", field="fichier"
        ) from None
    raise UnreadableFile(
        f"Le fichier {path.name} n'est ni un CSV ni un JSON (extension {suffix or 'absente'}).", field="fichier"
    )


def detect_version(rows: list[dict[str, Any]]) -> str:
    """v1 or v0.1 from the columns; when only shared columns are present, from the services used."""
    columns = {key for row in rows for key, value in row.items() if value not in (None, "")}
    if columns & V1_ONLY_COLUMNS:
        return V1
    v1_services = allowed_set(V1, "services")
    for row in rows:
        for value in _split(row.get("services"), "|;"):
            if value in v1_services:
                return V1
            if value in SERVICES_V01_TO_V1:
                return V01
    return V01 if columns & V01_ONLY_COLUMNS else V1


# ------------------------------------------------------------------------------------ cleaning


@cache
def _splitter(separators: str) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(s) for s in separators))


def _split(value: Any, separators: str) -> list[str]:
    if value is None or value == "":
        return []
    items = [str(v) for v in value] if isinstance(value, list) else _splitter(separators).split(str(value))
    return [item.strip() for item in items if item and item.strip()]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    return float(str(value).strip().replace(",", "."))


def _before_colon(value: str) -> str:
    return value.split(" : ", 1)[0].strip()


def _left_out(error: InvalidInput, ending: str = "ignoré") -> str:
    """The cleaner's sentence as a report line saying the value is left out."""
    return f"{error.message.removesuffix('.')} : {ending}."


class RowCleaner:
    """Cleans the rows of one file into records; each problem becomes an Issue naming the field."""

    def __init__(self, version: str) -> None:
        self.version = version

    def clean(self, line: int, raw: dict[str, Any]) -> CleanRow:
        issues: list[Issue] = [Issue("avertissement", *note) for note in raw.get(HUB_WARNINGS, [])]
        raw = _without_control_characters({k: v for k, v in raw.items() if k != HUB_WARNINGS}, issues)
        source_id = _text(raw.get("id")) or ""
        row = CleanRow(line=line, source_id=source_id, record=None, issues=issues, raw=raw)

        def warn(name: str, value: Any, message: str) -> None:
            issues.append(Issue("avertissement", name, value, message))

        def reject(name: str, value: Any, message: str) -> CleanRow:
            issues.append(Issue("rejet", name, value, message))
            return row

        if not source_id:
            return reject("id", raw.get("id"), "L'identifiant (id) du lieu est obligatoire : ligne ignorée.")
        if len(source_id) > ID_MAX:
            return reject("id", source_id, f"L'identifiant dépasse {ID_MAX} caractères : ligne ignorée.")
        record: dict[str, Any] = {name: None for name in RECORD_TEXT_FIELDS}
        record.update({name: [] for name in RECORD_LIST_FIELDS})
        # hub mappings set the APTIC facts directly
        record.update({name: raw.get(name) is True for name in RECORD_FLAG_FIELDS})
        record.update(latitude=None, longitude=None)

        for spec in REQUIRED_FIELDS:
            record[spec.name] = _text(raw.get(spec.name))
            if not record[spec.name]:
                return reject(spec.name, raw.get(spec.name),
                              f"Le champ « {spec.name} » est obligatoire : indiquez {spec.required} du lieu.")
        postcode = record["code_postal"]
        if re.fullmatch(r"\d{4}", postcode):
            warn("code_postal", postcode, f"Le code postal « {postcode} » a perdu son zéro initial : "
                 f"lu « {postcode.zfill(5)} ».")
            postcode = postcode.zfill(5)
        try:
            record["code_postal"] = VENUE_FIELD["code_postal"].clean(postcode)
        except InvalidInput as error:
            return reject("code_postal", postcode, error.message)
        for name, limit in TEXT_LIMITS.items():
            value = _text(raw.get(name)) if not VENUE_FIELD[name].required else record[name]
            if value and len(value) > limit:
                warn(name, value, f"Le champ « {name} » dépasse {limit} caractères : il est tronqué.")
                value = value[:limit]
            record[name] = value

        self._clean_identity(raw, record, warn)
        self._clean_contacts(raw, record, warn)
        self._clean_lists(raw, record, warn)
        self._clean_presentation(raw, record, warn)
        row.record = record
        return row

    # ---------------------------------------------------------------- groups of fields

    def _clean_identity(self, raw: dict[str, Any], record: dict[str, Any], warn: Any) -> None:
        code = _text(raw.get("code_insee"))
        if code:
            code = code.upper().zfill(5) if code.isdigit() else code.upper()
            if patterns(V1)["code_insee"].fullmatch(code):
                record["code_insee"] = code
            else:
                warn("code_insee", code, f"Le code INSEE « {code} » n'est pas valide : il sera déduit de l'adresse.")
        try:
            lat, lon = _number(raw.get("latitude")), _number(raw.get("longitude"))
        except ValueError:
            warn("latitude", f"{raw.get('latitude')}, {raw.get('longitude')}",
                 "Les coordonnées ne sont pas des nombres : elles seront recherchées par géocodage.")
            lat = lon = None
        if lat is not None and lon is not None:
            if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
                warn("latitude", f"{lat}, {lon}",
                     "Les coordonnées sont hors des bornes (latitude -90 à 90, longitude -180 à 180) : "
                     "elles seront recherchées par géocodage.")
            else:
                record["latitude"], record["longitude"] = lat, lon
        pivot = _text(raw.get("pivot"))
        if pivot and not PLACEHOLDER_PIVOT.match(pivot):
            try:
                record["pivot"] = VENUE_FIELD["pivot"].clean(pivot)
            except InvalidInput as error:
                warn("pivot", pivot, _left_out(error))
        date_maj = _text(raw.get("date_maj"))
        parsed = dates.parse_source_date(date_maj) if date_maj else None
        if parsed is not None and parsed not in dates.PLACEHOLDER_DATES:
            record["date_maj"] = parsed.isoformat()
        elif date_maj and parsed is None:
            warn("date_maj", date_maj, f"La date de mise à jour « {date_maj} » n'est dans aucun format reconnu "
                 f"({dates.FORMATS_TEXT}) : enregistrée comme inconnue.")
        elif not date_maj:
            warn("date_maj", None, "La date de mise à jour est absente : enregistrée comme inconnue.")

    def _clean_contacts(self, raw: dict[str, Any], record: dict[str, Any], warn: Any) -> None:
        phone = _text(raw.get("telephone"))
        if phone:
            record["telephone"], notes = recovery.phone(phone)
            for note in notes:
                warn(*note)
        horaires = _text(raw.get("horaires"))
        if horaires:
            try:
                record["horaires"] = VENUE_FIELD["horaires"].clean(horaires)
            except InvalidInput as error:
                warn("horaires", horaires, f"{error.message} Horaires ignorés.")
        cells = _split(raw.get("courriels"), "|;,") + _split(raw.get("courriel"), "|;,")
        for cell in dict.fromkeys(cells):
            try:
                record["courriels"].append(VENUE_FIELD["courriels"].clean(cell))
            except InvalidInput:
                found, notes = recovery.emails(cell)  # « a@x.fr ou b@x.fr », « Contact : a@x.fr »
                record["courriels"] += found
                for note in notes:
                    warn(*note)
        record["courriels"] = list(dict.fromkeys(record["courriels"]))
        for url in dict.fromkeys(_split(raw.get("site_web"), "|;")):
            try:
                record["site_web"].append(VENUE_FIELD["site_web"].clean(url))
            except InvalidInput as error:
                warn("site_web", url, _left_out(error, "ignorée"))
        for name, legacy in (("fiche_acces_libre", "accessibilite"), ("prise_rdv", None)):
            value = _text(raw.get(name)) or (_text(raw.get(legacy)) if legacy else None)
            if not value:
                continue
            try:
                record[name] = VENUE_FIELD[name].clean(value)
            except InvalidInput as error:
                warn(name, value, _left_out(error, "ignorée"))

    def _clean_lists(self, raw: dict[str, Any], record: dict[str, Any], warn: Any) -> None:
        sep = separator(self.version)
        record["typologie"] = list(dict.fromkeys(_split(raw.get("typologie"), sep)))
        record["autres_formations_labels"] = list(dict.fromkeys(
            _split(raw.get("autres_formations_labels"), sep) + _split(raw.get("labels_autres"), ";|")
        ))
        if self.version == V1:
            for spec in VENUE_FIELDS:
                if not spec.vocabulary:
                    continue
                name = spec.standard_name
                for value in _split(raw.get(name), "|"):
                    try:
                        record[spec.name].append(spec.clean(value))
                    except InvalidInput as error:
                        if name == "services" and value in SERVICES_V01_TO_V1:
                            record[spec.name].append(SERVICES_V01_TO_V1[value])
                        elif name == "formations_labels":
                            record["autres_formations_labels"].append(value)
                            warn(name, value, f"Le label « {value} » n'est pas dans la liste du standard : "
                                 "reporté dans « autres_formations_labels ».")
                        else:
                            warn(name, value, _left_out(error, "ignorée"))
        else:
            for value in _split(raw.get("services"), ";"):
                if value in SERVICES_V01_TO_V1:
                    record["standard_services"].append(SERVICES_V01_TO_V1[value])
                else:
                    warn("services", value, f"Le service « {value} » n'existe pas dans le standard v0.1 : ignoré.")
            for value in _split(raw.get("modalites_accompagnement"), ";"):
                mapped = ACCOMPAGNEMENT_V01_TO_V1.get(_before_colon(value))
                if mapped:
                    record["modalites_accompagnement"].append(mapped)
                else:
                    warn("modalites_accompagnement", value,
                         f"La valeur « {value} » n'est pas admise pour « modalites_accompagnement » : ignorée.")
        # v0.1 columns, in v0.1 files and in v1 files that kept them
        for value in _split(raw.get("publics_accueillis"), ";"):
            mapped = PUBLICS_V01_TO_V1.get(_before_colon(value))
            if mapped:
                record[mapped[0]].append(mapped[1])
            elif _before_colon(value) != "Adultes":
                warn("publics_accueillis", value, f"Le public « {value} » n'existe pas dans le standard : ignoré.")
        for value in _split(raw.get("conditions_acces"), ";"):
            condition = _before_colon(value)
            if condition == PASS_CONDITION:
                record["accepts_pass"] = True
            if condition in CONDITIONS_V01_TO_V1:
                record["frais_a_charge"].append(CONDITIONS_V01_TO_V1[condition])
            else:
                warn("conditions_acces", value, f"La condition d'accès « {value} » n'existe pas dans le standard : ignorée.")
        for value in _split(raw.get("labels_nationaux"), ";|"):
            if value == APTIC_LABEL:
                record["aptic_label"] = True
            elif value in LABELS_V01_TO_V1:
                target, mapped = LABELS_V01_TO_V1[value]
                record[target].append(mapped)
            else:
                record["autres_formations_labels"].append(value)
        # the APTIC facts as this platform writes them in v1 output
        for value in list(record["autres_formations_labels"]):
            if value == APTIC_LABEL_TEXT:
                record["aptic_label"] = True
                record["autres_formations_labels"].remove(value)
            elif value == PASS_TEXT:
                record["accepts_pass"] = True
                record["autres_formations_labels"].remove(value)
        for name in RECORD_LIST_FIELDS:
            record[name] = list(dict.fromkeys(record[name]))

    def _clean_presentation(self, raw: dict[str, Any], record: dict[str, Any], warn: Any) -> None:
        resume = _text(raw.get("presentation_resume"))
        detail = _text(raw.get("presentation_detail"))
        if resume and len(resume) > RESUME_MAX:
            warn("presentation_resume", resume[:80] + "…",
                 f"Le résumé compte {len(resume)} caractères (maximum {RESUME_MAX}) : il est raccourci, "
                 "le texte complet est gardé dans « presentation_detail »" + (" (déjà rempli, inchangé)." if detail else "."))
            if not detail:
                detail = resume
            resume = resume[: RESUME_MAX - 1].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"
        record["presentation_resume"], record["presentation_detail"] = resume, detail
