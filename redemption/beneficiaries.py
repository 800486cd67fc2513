"""Beneficiaries known by a keyed pseudonym only: one booklet per person per vintage, without storing who they are.

The distributor types the person's last name, first name and date of birth; the platform keeps
HMAC-SHA256(key, normalised fields) and forgets the fields. The key is the setting
`BENEFICIARY_KEY` (environment `APTIC_BENEFICIARY_KEY`); when it is empty it is derived from the
application's `SECRET_KEY`, so changing either changes every pseudonym (a person could then be served
again in the current vintage): set it once per installation and keep it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from directory.errors import InvalidInput

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’`´.,_]+")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l"})
_DERIVATION_LABEL = b"aptic:beneficiary-pseudonym:v1"
OLDEST_BIRTH = date(1900, 1, 1)
MAX_NAME = 100


def normalise_name(value: str) -> str:
    """Casefolded, accents stripped, hyphens, apostrophes and spaces collapsed into one space."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_LIGATURES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return _SEPARATORS.sub(" ", bare).strip()


@dataclass(frozen=True)
class Beneficiary:
    """The identity typed by a distributor: held in memory for one request, never stored nor logged."""

    last_name: str
    first_name: str
    birth_date: date

    def __repr__(self) -> str:  # never in a log or a traceback
        return "Beneficiary(…)"

    __str__ = __repr__

    def pseudonym(self, key: bytes) -> str:
        message = "\x1f".join((normalise_name(self.last_name), normalise_name(self.first_name),
                               self.birth_date.isoformat()))
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def platform_key(config: Mapping[str, Any]) -> bytes:
    """The pseudonym key: `BENEFICIARY_KEY`, or one derived from `SECRET_KEY` when it is not set."""
    explicit = config.get("BENEFICIARY_KEY") or ""
    if explicit:
        return explicit.encode() if isinstance(explicit, str) else bytes(explicit)
    secret = config.get("SECRET_KEY") or ""
    if not secret:
        raise RuntimeError("BENEFICIARY_KEY or SECRET_KEY must be set to pseudonymise beneficiaries")
    secret_bytes = secret.encode() if isinstance(secret, str) else bytes(secret)
    return hmac.new(secret_bytes, _DERIVATION_LABEL, hashlib.sha256).digest()


def _name(value: Any, field: str, label: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not normalise_name(text) or len(text) > MAX_NAME or any(unicodedata.category(ch)[0] == "C" for ch in text):
        raise InvalidInput(f"Indiquez le {label} du bénéficiaire (au plus {MAX_NAME} caractères).", field=field,
                           code="required" if not text else "invalid_name")
    if not any(ch.isalpha() for ch in text):
        raise InvalidInput(f"Le {label} du bénéficiaire doit contenir des lettres.", field=field, code="invalid_name")
    return text


def _birth_date(value: Any, today: date) -> date:
    if isinstance(value, date):
        born = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise InvalidInput("Indiquez la date de naissance du bénéficiaire.", field="date_naissance", code="required")
        try:
            born = date.fromisoformat(text) if "-" in text else _french_date(text)
        except ValueError:
            raise InvalidInput("La date de naissance s'écrit JJ/MM/AAAA (par exemple 14/07/1950).",
                               field="date_naissance", code="invalid_date") from None
    if not OLDEST_BIRTH <= born <= today:
        raise InvalidInput("La date de naissance doit être passée et postérieure au 1er janvier 1900.",
                           field="date_naissance", code="invalid_date")
    return born


def _french_date(text: str) -> date:
    day, month, year = text.split("/")
    if len(year) != 4:
        raise ValueError(text)
    return date(int(year), int(month), int(day))


def read_beneficiary(last_name: Any, first_name: Any, birth_date: Any, today: date | None = None) -> Beneficiary:
    """The identity fields checked (field names as in the form: nom, prenom, date_naissance)."""
    return Beneficiary(_name(last_name, "nom", "nom"), _name(first_name, "prenom", "prénom"),
                       _birth_date(birth_date, today or date.today()))
