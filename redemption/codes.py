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

import numpy as np
from stdnum.iso7064 import mod_37_2

ALPHABET = "23456789ABCDEFGHJKMNPQRTUVWXY"
RANDOM_LENGTH = 13
LENGTH = RANDOM_LENGTH + 1
GROUPS = (5, 5, 4)
_SEPARATORS = re.compile(r"[\s\-–.]+")


_SPACE = np.uint64(len(ALPHABET) ** RANDOM_LENGTH)  # < 2**64: one random 64-bit word draws a whole body
_LETTERS = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)


def new_code() -> str:
    """A fresh code in compact form (what the barcode carries and the database stores)."""
    return new_codes(1)[0]


def new_codes(count: int) -> list[str]:
    """`count` fresh codes at once, in bulk arithmetic (an order issues 100,000 of them).

    Each body is a number drawn uniformly below 29**13 from `secrets` (64-bit words above it are
    drawn again, not folded, which would favour the small ones), written in base 29; its check
    character is ISO 7064 MOD 29-2, `mod_37_2.calc_check_digit` computed on whole columns.
    """
    base = np.uint64(len(ALPHABET))
    numbers = np.empty(0, dtype=np.uint64)
    while len(numbers) < count:
        words = np.frombuffer(secrets.token_bytes(8 * 2 * (count - len(numbers))), dtype=np.uint64)
        numbers = np.concatenate([numbers, words[words < _SPACE]])
    numbers = numbers[:count]
    digits = np.empty((count, LENGTH), dtype=np.uint8)
    for position in range(RANDOM_LENGTH - 1, -1, -1):
        numbers, digit = np.divmod(numbers, base)
        digits[:, position] = digit
    check = np.zeros(count, dtype=np.int64)
    for position in range(RANDOM_LENGTH):
        check = (2 * check + digits[:, position]) % len(ALPHABET)
    digits[:, RANDOM_LENGTH] = (1 - 2 * check) % len(ALPHABET)
    text = _LETTERS[digits].tobytes().decode("ascii")
    return [text[start : start + LENGTH] for start in range(0, len(text), LENGTH)]


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
