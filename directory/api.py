"""The directory's public entry point: what other packages may call, re-exported from its subject modules.

Business functions take a session, flush, raise domain errors, and never commit: the caller owns
the unit of work. Inside the package, modules import each other directly, never through this file.
"""

from __future__ import annotations

from directory.accounts import (
    active_user,
    add_membership,
    authenticate,
    authenticate_api_key,
    create_api_key,
    create_user,
    end_sessions,
    get_user,
    list_api_keys,
    list_users,
    may_see_organisation,
    revoke_api_key,
    set_active,
    set_password,
    sign_in,
)
from directory.audit import Actor, audit_trail, jsonable, record_audit, record_audits
from directory.hours import DayHours, is_open_at, validate_opening_hours, venue_hours, venue_timezone, week_hours
from directory.commune_search import AmbiguousPlace, CommuneEntry, candidate_record, find_commune, suggest_communes
from directory.nearby import (
    NEARBY_DEFAULT_LIMIT,
    NEARBY_DEFAULT_RADIUS_KM,
    NEARBY_LIST_FILTERS,
    NEARBY_MAX_LIMIT,
    NEARBY_MAX_OFFSET,
    NEARBY_MAX_RADIUS_KM,
    NearbyResult,
    NearbyVenue,
    Place,
    commune_place,
    nearby_venues,
    resolve_place,
)
from directory.organisations import clean_rna, clean_siret, create_organisation, get_organisation, list_organisations
from directory.referential import (
    REFERENTIAL_FILE,
    active_services,
    load_referential,
    services_by_slugs,
    services_for_standard,
)
from directory.territories import (
    COMMUNE_CODE_OF_LEVEL,
    INSEE_CODE,
    POSTCODE,
    check_coordinates,
    commune_at,
    commune_by_code,
    communes_by_postcode,
    name_with_preposition,
    normalize_name,
    search_communes,
    territory_by_code,
)
from directory.venue_fields import (
    EMAIL,
    PHONE,
    REQUIRED_FIELDS,
    URL,
    VENUE_FIELD,
    VENUE_FIELDS,
    FieldKind,
    VenueField,
    clean_email,
    normalize_phone,
    parse_date,
    venue_field_names,
)
from directory.venues import (
    VENUE_STATUS_MACHINE,
    VENUE_TRANSITIONS,
    clean_venue_fields,
    create_venue,
    distribution_only_by_default,
    get_venue,
    set_distribution_only,
    set_venue_status,
    update_venue,
    venue_coordinates,
)

__all__ = [
    # audit
    "Actor", "audit_trail", "jsonable", "record_audit", "record_audits",
    # territories
    "COMMUNE_CODE_OF_LEVEL", "INSEE_CODE", "POSTCODE", "check_coordinates", "commune_at", "commune_by_code",
    "communes_by_postcode", "name_with_preposition", "normalize_name", "search_communes", "territory_by_code",
    # referential
    "REFERENTIAL_FILE", "active_services", "load_referential", "services_by_slugs", "services_for_standard",
    # organisations
    "clean_rna", "clean_siret", "create_organisation", "get_organisation", "list_organisations",
    # venue fields
    "EMAIL", "PHONE", "REQUIRED_FIELDS", "URL", "VENUE_FIELD", "VENUE_FIELDS", "FieldKind", "VenueField",
    "clean_email", "normalize_phone", "parse_date", "venue_field_names",
    # venues
    "VENUE_STATUS_MACHINE", "VENUE_TRANSITIONS", "clean_venue_fields", "create_venue", "get_venue",
    "distribution_only_by_default", "set_distribution_only", "set_venue_status", "update_venue", "venue_coordinates",
    # opening hours
    "DayHours", "is_open_at", "validate_opening_hours", "venue_hours", "venue_timezone", "week_hours",
    # accounts
    "active_user", "add_membership", "authenticate", "authenticate_api_key", "create_api_key", "create_user",
    "end_sessions", "get_user", "list_api_keys", "list_users", "may_see_organisation", "revoke_api_key", "set_active",
    "set_password", "sign_in",
    # nearby search
    "NEARBY_DEFAULT_LIMIT", "NEARBY_DEFAULT_RADIUS_KM", "NEARBY_LIST_FILTERS", "NEARBY_MAX_LIMIT",
    "NEARBY_MAX_OFFSET", "NEARBY_MAX_RADIUS_KM", "NearbyResult", "NearbyVenue", "Place", "commune_place",
    "nearby_venues", "resolve_place",
    # commune search
    "AmbiguousPlace", "CommuneEntry", "candidate_record", "find_commune", "suggest_communes",
]
