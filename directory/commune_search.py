"""Commune search that forgives: typos, missing accents and hyphens, postcodes, départements, arrondissements.

Everything is offline, from the territories tables: one in-memory index of the communes per database
(about 35,000 names, rebuilt when the communes change), matched exactly, then by prefix, then with
rapidfuzz's edit ratio; the population breaks ties. When the best name belongs to several communes
("Saint-Denis"), the search does not pick one: it raises `AmbiguousPlace` with the candidates and
their département, and "Saint-Denis (93)" then names one.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.errors import InvalidInput, NotFound
from directory.models import Territory, TerritoryLevel, TerritoryPostcode
from directory.territories import normalize_name

# rapidfuzz's ratio (0-100) a name must reach to count as a typo of the query.
FUZZY_CUTOFF = 80.0
FUZZY_MIN_LENGTH = 4
PREFIX_MIN_LENGTH = 3
MAX_CANDIDATES = 12
DEPARTEMENT_TOKEN = re.compile(r"^(0?[1-9]|[1-8]\d|9[0-5]|2[ab]|97[1-6])$")
PARENTHESISED_DEPARTEMENT = re.compile(r"\(\s*(\d{2,3}|2[abAB])\s*\)")
ORDINAL_TOKEN = re.compile(r"^(\d{1,2})(?:er|e|eme|ème|nd|d)?$")
ARRONDISSEMENT_WORDS = frozenset({"arrondissement", "arr", "arrdt", "ardt"})
# Communes with municipal arrondissements (Paris, Lyon, Marseille): INSEE code, number of arrondissements.
# The territories carry no point per arrondissement: "Paris 15e" is searched from the commune's centre,
# "Paris 75015" too (the postcode names the commune); an address gives the exact point.
ARRONDISSEMENTS = {"75056": 20, "69123": 9, "13055": 16}


class CommuneEntry(NamedTuple):
    """One commune of the index (a named tuple: 35,000 of them are built at once)."""

    code: str
    name: str
    key: str
    departement: str
    population: int
    lon: float | None
    lat: float | None
    postcodes: tuple[str, ...]

    @property
    def label(self) -> str:
        """The name with its département, as the homonyms are offered: "Saint-Denis (93)"."""
        return f"{self.name} ({self.departement})" if self.departement else self.name


@dataclass(frozen=True)
class CommuneMatch:
    """The commune a query names, and how to call it in a sentence ("69001 Lyon", "Paris 15e arrondissement")."""

    commune: CommuneEntry
    label: str


class AmbiguousPlace(InvalidInput):
    """Several communes answer to the name: the caller offers them, with a stable code each."""

    code = "ambiguous_place"
    status = 400

    def __init__(self, query: str, candidates: list[CommuneEntry], field: str = "q") -> None:
        names = ", ".join(c.label for c in candidates[:4])
        super().__init__(
            f"Plusieurs communes s'appellent « {query} » : {names}{'…' if len(candidates) > 4 else ''}. "
            "Choisissez la vôtre.",
            field=field,
            details={"candidats": [candidate_record(c) for c in candidates]},
        )
        self.candidates = candidates


def candidate_record(entry: CommuneEntry) -> dict[str, object]:
    return {"code_insee": entry.code, "nom": entry.name, "departement": entry.departement,
            "libelle": entry.label, "population": entry.population}


@dataclass
class _Index:
    entries: list[CommuneEntry]
    by_key: dict[str, list[CommuneEntry]]
    keys: list[str]  # sorted, for prefix look-ups
    by_initial: dict[str, list[str]]  # typos seldom touch the first letter: compare those first
    by_postcode: dict[str, list[CommuneEntry]]
    by_code: dict[str, CommuneEntry] = field(default_factory=dict)


_INDEXES: dict[str, tuple[int, float, _Index]] = {}
_LOCK = threading.Lock()
# How often a process checks that the communes did not change (a reload of the territories adds rows).
RECHECK_SECONDS = 30.0


def _index(session: Session) -> _Index:
    """The communes of this database, built once per process and rebuilt when the territories change."""
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    known = _INDEXES.get(url)
    if known is not None and time.monotonic() - known[1] < RECHECK_SECONDS:
        return known[2]
    signature = int(session.scalar(select(func.max(Territory.id))) or 0)  # primary key index: one look-up
    if known is not None and known[0] == signature:
        _INDEXES[url] = (signature, time.monotonic(), known[2])
        return known[2]
    with _LOCK:
        index = _build(session)
        _INDEXES[url] = (signature, time.monotonic(), index)
    return index


def _build(session: Session) -> _Index:
    postcodes: dict[int, list[str]] = {}
    connection = session.connection()  # Core rows: no ORM bookkeeping for 70,000 of them
    for commune_id, postcode in connection.execute(select(TerritoryPostcode.commune_id, TerritoryPostcode.postcode)):
        postcodes.setdefault(commune_id, []).append(postcode)
    rows = connection.execute(
        select(Territory.id, Territory.code, Territory.name, Territory.search_name, Territory.departement_code,
               Territory.population, func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
        .where(Territory.level == TerritoryLevel.COMMUNE)
    )
    entries = [
        CommuneEntry(code, name, key or normalize_name(name), departement or "", population or 0,
                     float(x) if x is not None else None, float(y) if y is not None else None,
                     tuple(sorted(postcodes.get(commune_id, ()))))
        for commune_id, code, name, key, departement, population, x, y in rows
    ]
    by_key: dict[str, list[CommuneEntry]] = {}
    by_postcode: dict[str, list[CommuneEntry]] = {}
    for entry in entries:
        by_key.setdefault(entry.key, []).append(entry)
        for postcode in entry.postcodes:
            by_postcode.setdefault(postcode, []).append(entry)
    for group in (*by_key.values(), *by_postcode.values()):
        group.sort(key=lambda e: (-e.population, e.code))
    by_initial: dict[str, list[str]] = {}
    for key in by_key:
        by_initial.setdefault(key[:1], []).append(key)
    return _Index(entries, by_key, sorted(by_key), by_initial, by_postcode, {e.code: e for e in entries})


@dataclass(frozen=True)
class ParsedQuery:
    """What a typed place says: a name, a postcode, a département, an arrondissement number."""

    name: str
    postcode: str | None = None
    departement: str | None = None
    arrondissement: int | None = None


def parse_query(text: str) -> ParsedQuery:
    """ "Saint-Denis (93)", "Marseille 13001", "Paris 15e", "lyon 3eme arrondissement", "29000"."""
    departement = None
    found = PARENTHESISED_DEPARTEMENT.search(text)
    if found:
        departement = found.group(1).upper().zfill(2)
        text = text[: found.start()] + " " + text[found.end():]
    words = normalize_name(text).split()
    postcode = arrondissement = None
    name_words: list[str] = []
    for position, word in enumerate(words):
        if re.fullmatch(r"\d{5}", word) and postcode is None:
            postcode = word
        elif word in ARRONDISSEMENT_WORDS and position > 0:
            continue
        elif position > 0 and (ordinal := ORDINAL_TOKEN.match(word)) and arrondissement is None \
                and (word != ordinal.group(1) or position == len(words) - 1):
            arrondissement = int(ordinal.group(1))
        elif position > 0 and DEPARTEMENT_TOKEN.match(word) and departement is None and position == len(words) - 1:
            departement = word.upper().zfill(2)  # "Saint-Denis 974", "Ajaccio 2A"
        else:
            name_words.append(word)
    return ParsedQuery(" ".join(name_words), postcode, departement, arrondissement)


def find_commune(session: Session, query: str, field: str = "q") -> CommuneMatch:
    """The commune a query names; NotFound (`unknown_place`) or AmbiguousPlace when it cannot say which."""
    text = (query or "").strip()
    index = _index(session)
    parsed = parse_query(text)
    if parsed.postcode and not parsed.name:
        communes = [c for c in index.by_postcode.get(parsed.postcode, []) if c.lon is not None]
        if not communes:
            raise NotFound(f"Le code postal « {parsed.postcode} » ne correspond à aucune commune.",
                           field=field, code="unknown_place")
        return CommuneMatch(communes[0], f"{parsed.postcode} {communes[0].name}")
    if parsed.postcode:
        among = [c for c in index.by_postcode.get(parsed.postcode, []) if c.lon is not None]
        best = _best_named(parsed.name, among)
        if best is not None:
            return CommuneMatch(best, f"{best.name} {parsed.postcode}")
    departement = parsed.departement
    if parsed.arrondissement is not None and departement is None:
        with_arrondissements = [c for c in _matching(index, parsed.name, None) if c.code in ARRONDISSEMENTS]
        count = ARRONDISSEMENTS[with_arrondissements[0].code] if with_arrondissements else 0
        if 1 <= parsed.arrondissement <= count:
            commune, number = with_arrondissements[0], parsed.arrondissement
            return CommuneMatch(commune, f"{commune.name} {number}{'er' if number == 1 else 'e'} arrondissement")
        # "Saint-Denis 93": the number is the département.
        departement = str(parsed.arrondissement).zfill(2)
    candidates = _matching(index, parsed.name, departement)
    if not candidates:
        raise NotFound(f"Aucune commune ne s'appelle « {text} ».", field=field, code="unknown_place")
    if len(candidates) > 1:
        raise AmbiguousPlace(text, candidates[:MAX_CANDIDATES], field=field)
    commune = candidates[0]
    return CommuneMatch(commune, commune.name)


def suggest_communes(session: Session, query: str, limit: int = 5) -> list[CommuneEntry]:
    """The communes a partly typed name may mean, best first (for autocomplete), homonyms all listed."""
    parsed = parse_query(query or "")
    index = _index(session)
    if parsed.postcode and not parsed.name:
        return index.by_postcode.get(parsed.postcode, [])[:limit]
    found: list[CommuneEntry] = []
    for group in _ranked_groups(index, parsed.name, parsed.departement, limit):
        found.extend(c for c in group if c not in found)
        if len(found) >= limit:
            break
    return found[:limit]


def _matching(index: _Index, name: str, departement: str | None) -> list[CommuneEntry]:
    """The communes of the best matching name (all its homonyms), within the département if given."""
    for group in _ranked_groups(index, name, departement, 1):
        return group
    return []


def _ranked_groups(index: _Index, name: str, departement: str | None, wanted: int) -> list[list[CommuneEntry]]:
    """Groups of communes sharing a name, best first: exact name, then prefixes, then typos (by
    edit ratio); within a rank, the most populous name first. Only located communes count."""
    if not name:
        return []

    def located(key: str) -> list[CommuneEntry]:
        return [c for c in index.by_key.get(key, ())
                if c.lon is not None and (departement is None or c.departement == departement)]

    wanted = max(wanted, 1)
    groups: list[list[CommuneEntry]] = []
    if exact := located(name):
        groups.append(exact)
    if len(groups) < wanted and len(name) >= PREFIX_MIN_LENGTH:
        start = bisect.bisect_left(index.keys, name)
        prefixed = []
        for key in index.keys[start:]:
            if not key.startswith(name):
                break
            if key != name and (group := located(key)):
                prefixed.append(group)
        prefixed.sort(key=lambda g: -max(c.population for c in g))
        groups.extend(prefixed[: wanted * 3])
    if len(groups) < wanted:
        if len(name) >= FUZZY_MIN_LENGTH:
            scored = []
            for keys in (index.by_initial.get(name[:1], []), index.keys):
                scored = process.extract(name, keys, scorer=fuzz.ratio, processor=None,
                                         score_cutoff=FUZZY_CUTOFF, limit=wanted * 5)
                if scored:
                    break
            fuzzy = [(round(score), group) for key, score, _ in scored
                     if not key.startswith(name) and key != name and (group := located(key))]
            fuzzy.sort(key=lambda item: (-item[0], -max(c.population for c in item[1])))
            groups.extend(group for _, group in fuzzy)
    return groups


def _best_named(name: str, among: list[CommuneEntry]) -> CommuneEntry | None:
    """Among the communes of a postcode, the one whose name is closest to `name` (if close at all)."""
    if not among:
        return None
    scored = [(fuzz.ratio(name, c.key) if not c.key.startswith(name) else 100.0, c) for c in among]
    score, best = max(scored, key=lambda item: (item[0], item[1].population))
    return best if score >= FUZZY_CUTOFF else None


def commune_entry(session: Session, code: str) -> CommuneEntry | None:
    """A commune of the index by its INSEE code (the stable code of a candidate)."""
    return _index(session).by_code.get((code or "").strip().upper())
