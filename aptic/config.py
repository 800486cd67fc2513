"""Configuration from the environment. Every variable is documented in the README."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from directory.basemap import DEFAULT_TILE_ATTRIBUTION, DEFAULT_TILE_URL

DEFAULT_GEOCODER_URL = "https://api-adresse.data.gouv.fr"


def _secret_key(instance_path: Path) -> str:
    """APTIC_SECRET_KEY, or a key generated once and kept in the instance folder."""
    if key := os.environ.get("APTIC_SECRET_KEY"):
        return key
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def load(instance_path: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": os.environ.get(
            "APTIC_DATABASE_URL", f"sqlite:///{instance_path / 'aptic.db'}"
        ),
        "SECRET_KEY": _secret_key(instance_path),
        # Key of the beneficiaries' pseudonyms (redemption.beneficiaries); empty: derived from SECRET_KEY.
        "BENEFICIARY_KEY": os.environ.get("APTIC_BENEFICIARY_KEY", ""),
        "DISTRIBUTION_RATE_LIMIT": os.environ.get("APTIC_DISTRIBUTION_RATE_LIMIT", "10 per minute;200 per day"),
        # Connections each process keeps open; size it to the threads a worker runs (gunicorn --threads).
        "DATABASE_POOL_SIZE": int(os.environ.get("APTIC_DATABASE_POOL_SIZE", "10")),
        # Seconds a request waits for a free connection before answering 503 database_busy.
        "DATABASE_POOL_TIMEOUT": float(os.environ.get("APTIC_DATABASE_POOL_TIMEOUT", "10")),
        "GEOCODER_URL": os.environ.get("APTIC_GEOCODER_URL", DEFAULT_GEOCODER_URL),
        # Qualification documents (IDs, bank details): outside any served folder; empty = instance folder.
        "QUALIFICATION_UPLOAD_DIR": os.environ.get("APTIC_UPLOAD_DIR", ""),
        # Daily open-data files, served at /donnees/; empty = `publication/` in the instance folder.
        "PUBLICATION_DIR": os.environ.get("APTIC_PUBLICATION_DIR", ""),
        # Basemap tiles ({z}/{x}/{y} template); empty = no tiles, the boundary layer alone.
        "TILE_URL": os.environ.get("APTIC_TILE_URL", DEFAULT_TILE_URL),
        "TILE_ATTRIBUTION": os.environ.get("APTIC_TILE_ATTRIBUTION", DEFAULT_TILE_ATTRIBUTION),
        # Consolidation ratio: a qualification leaving each venue of a territory with fewer cheques in
        # circulation than this is flagged (decisions, recommendations).
        "CONSOLIDATION_MIN_CHEQUES": float(os.environ.get("APTIC_CONSOLIDATION_MIN_CHEQUES", "50")),
        # Address searches sent to the geocoder by one anonymous visitor (address), Flask-Limiter notation.
        "GEOCODING_RATE_LIMIT": os.environ.get("APTIC_GEOCODING_RATE_LIMIT", "30 per minute"),
        # Autocomplete calls to the geocoder (cache misses) by one anonymous visitor (address).
        "AUTOCOMPLETE_RATE_LIMIT": os.environ.get("APTIC_AUTOCOMPLETE_RATE_LIMIT", "60 per minute"),
        "RATELIMIT_STORAGE_URI": os.environ.get("APTIC_RATELIMIT_STORAGE_URI", "memory://"),
        # Production (deploy/): keys of the shared rate-limit counters, so that sites can share one Redis.
        "RATELIMIT_KEY_PREFIX": os.environ.get("APTIC_RATELIMIT_KEY_PREFIX", "aptic"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Explicit, since Flask-Limiter's single extension keeps the last app's choice otherwise.
        "RATELIMIT_ENABLED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("APTIC_SECURE_COOKIES", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,
        "JSON_SORT_KEYS": False,
        "LOG_LEVEL": os.environ.get("APTIC_LOG_LEVEL", "INFO"),
        # a2 — APTIC's legal identity on the venues' statements (French invoices for its commission and fee).
        "ISSUER_NAME": os.environ.get("APTIC_ISSUER_NAME", "APTIC"),
        "ISSUER_SIRET": os.environ.get("APTIC_ISSUER_SIRET", "à renseigner (APTIC_ISSUER_SIRET)"),
        "CONTACT_EMAIL": os.environ.get("APTIC_CONTACT_EMAIL", "à renseigner (APTIC_CONTACT_EMAIL)"),
        "HOSTING_PROVIDER": os.environ.get("APTIC_HOSTING_PROVIDER", "à renseigner (APTIC_HOSTING_PROVIDER)"),
        "PUBLICATION_DIRECTOR": os.environ.get("APTIC_PUBLICATION_DIRECTOR",
                                               "à renseigner (APTIC_PUBLICATION_DIRECTOR)"),
        "ISSUER_ADDRESS": os.environ.get("APTIC_ISSUER_ADDRESS", "à renseigner (APTIC_ISSUER_ADDRESS)"),
        # --- hardening (issue 16) ---
        # Reverse proxies in front of the app (hops whose X-Forwarded-* headers are trusted); 0 = none.
        "TRUSTED_PROXIES": int(os.environ.get("APTIC_TRUSTED_PROXIES", "0")),
        # Who may frame /embed (CSP frame-ancestors); every other page may not be framed.
        "EMBED_ANCESTORS": os.environ.get("APTIC_EMBED_ANCESTORS", "*"),
        # The public address written in the OpenAPI `servers` entry (never taken from the request).
        "PUBLIC_URL": os.environ.get("APTIC_PUBLIC_URL", ""),
        # Request bodies above this are refused (413) before being read: just above the largest upload.
        "MAX_CONTENT_LENGTH": int(os.environ.get("APTIC_MAX_REQUEST_BYTES", str(10 * 1024 * 1024 + 256 * 1024))),
    }
