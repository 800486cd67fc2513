"""Cheque codes: 13 random characters from `secrets` and an ISO 7064 pure-system check character.

The alphabet has 29 characters: no 0 or O, no 1, I or L, no S (read as 5), no Z (read as 2).
Its size is prime, so ISO 7064's pure system MOD 29-2 (python-stdnum's `mod_37_2` with this
alphabet) catches every single-character substitution and every swap of two adjacent characters,
the check character included, which comes from the same alphabet. (A hybrid MOD 37-36 style
system misses some adjacent swaps.) 13 characters carry 13 × log2(29) ≈ 63.2 random bits.
"""

from __future__ import annotations

import re
import secrets

from stdnum.iso7064 import mod_37_2

ALPHABET = "23456789ABCDEFGHJKMNPQRTUVWXY"
RANDOM_LENGTH = 13
LENGTH = RANDOM_LENGTH + 1
GROUPS = (5, 5, 4)
_SEPARATORS = re.compile(r"[\s\-–.]+")


def new_code() -> str:
    """A fresh code in compact form (what the barcode carries and the database stores)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + mod_37_2.calc_check_digit(body, alphabet=ALPHABET)


def normalize(value: str) -> str | None:
    """The compact code for what was scanned or typed, or None when it is not a valid code.

    Any case is accepted, with or without spaces or hyphens between groups.
    """
    compact = _SEPARATORS.sub("", value or "").upper()
    if len(compact) != LENGTH or any(ch not in ALPHABET for ch in compact):
        return None
    return compact if mod_37_2.is_valid(compact, alphabet=ALPHABET) else None


def grouped(code: str) -> str:
    """The code as printed for people: ABCDE-FGHJK-MNPQ."""
    parts, start = [], 0
    for size in GROUPS:
        parts.append(code[start : start + size])
        start += size
    return "-".join(parts)
