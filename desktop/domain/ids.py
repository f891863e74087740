"""Identifiers: UUIDv7 row ids, short human codes, queue token codes."""

from __future__ import annotations

import re
import secrets

import uuid_utils

# Crockford base32: no I, L, O, U, so codes read aloud and typed by hand survive.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_RE = re.compile(r"^(APT|RX|PAT)-[0-9A-HJKMNP-TV-Z]{5}$")
_TOKEN_RE = re.compile(r"^([A-Z])-(\d{3,})$")
_CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_id() -> str:
    """A time-ordered UUIDv7 string, unique without a server."""
    return str(uuid_utils.uuid7())


def human_code(prefix: str, length: int = 5) -> str:
    """A short readable code like `APT-7K3Q9` (32**5 ≈ 33 million values)."""
    return f"{prefix}-" + "".join(secrets.choice(CROCKFORD) for _ in range(length))


def normalise_code(text: str) -> str:
    """Upper-case and map look-alike letters, so `apt-7k3q9` or `APT-7K3QO` find `APT-7K3Q0`."""
    head, _, tail = text.strip().upper().partition("-")
    return f"{head}-{tail.translate(_CROCKFORD_ALIASES)}" if tail else head


def is_human_code(text: str) -> bool:
    return bool(_CODE_RE.match(text))


def token_code(letter: str, number: int) -> str:
    """Queue token shown on the ticket and the board: device letter + the day's number."""
    return f"{letter}-{number:03d}"


def parse_token_code(code: str) -> tuple[str, int] | None:
    match = _TOKEN_RE.match(code.strip().upper())
    return (match.group(1), int(match.group(2))) if match else None
