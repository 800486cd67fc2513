"""The national service referential: loading its file, the active services, look-ups by slug."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from directory.errors import Conflict, InvalidInput
from directory.models import ReferentialVersion, Service, ServiceLevel
from directory.process_cache import ProcessCache

REFERENTIAL_FILE = Path(__file__).parent / "data" / "referential.toml"
ACTIVE_SERVICES = ProcessCache(Service, lambda: select(Service).where(Service.active))


def load_referential(session: Session, path: Path = REFERENTIAL_FILE) -> dict[str, Any]:
    """Load the service referential file into the tables; idempotent for a given version."""
    raw = path.read_bytes()
    checksum = hashlib.sha256(raw).hexdigest()
    data = tomllib.loads(raw.decode("utf-8"))
    version = str(data["version"])
    existing = session.scalar(select(ReferentialVersion).where(ReferentialVersion.version == version))
    if existing is not None:
        if existing.checksum != checksum:
            raise Conflict(
                f"La version {version} du référentiel est déjà chargée avec un autre contenu : "
                "changez le numéro de version du fichier.",
                field="version",
                code="referential_version_reused",
            )
        return {"version": version, "changed": False}

    for level in data["levels"]:
        row = session.get(ServiceLevel, level["number"]) or ServiceLevel(number=level["number"])
        row.label = level["label"]
        session.add(row)
    session.flush()
    by_slug = {service.slug: service for service in session.scalars(select(Service))}
    seen = set()
    for position, item in enumerate(data["services"]):
        service = by_slug.get(item["slug"]) or Service(slug=item["slug"])
        service.level_number = item["level"]
        service.label = item["label"]
        service.standard_services = list(item["standard_services"])
        service.position = position
        service.active = True
        session.add(service)
        seen.add(item["slug"])
    for slug, service in by_slug.items():
        if slug not in seen:
            service.active = False
    session.add(ReferentialVersion(version=version, checksum=checksum))
    session.flush()
    return {"version": version, "changed": True, "services": len(seen)}


def active_services(session: Session) -> list[Service]:
    return list(
        session.scalars(
            select(Service)
            .options(selectinload(Service.level))
            .where(Service.active)
            .order_by(Service.position)
        )
    )


def services_by_slugs(session: Session, slugs: list[str], field: str = "services") -> list[Service]:
    """Active services by slug, from the per-process cache of the referential (no query once it is warm)."""
    wanted = list(dict.fromkeys(slug.strip() for slug in slugs if slug.strip()))
    found = {
        values["slug"]: ACTIVE_SERVICES.attach(session, values)
        for values in ACTIVE_SERVICES.rows(session) if values["slug"] in wanted
    }
    unknown = [slug for slug in wanted if slug not in found]
    if unknown:
        raise InvalidInput(
            f"Service inconnu du référentiel : {', '.join(unknown)}.",
            field=field,
            code="unknown_service",
        )
    return [found[slug] for slug in wanted]


def services_for_standard(session: Session, standard_services: list[str]) -> list[Service]:
    """The referential services that correspond to services of the national venue standard."""
    wanted = set(standard_services)
    return [s for s in active_services(session) if wanted & set(s.standard_services)]
