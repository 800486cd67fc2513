"""The qualification's public entry point: re-exports what the shell, `maps`, the views and the tests call.

The business functions live in one module per subject: `checklist`, `applications` (with their
status machine), `quotas`, `accessibility` (E2SFCA maths), `density` (figures per territory,
`DensityModel`), `decisions`, `waitlist` (with the weekly promotion step), `venue_changes`
(scheduled dequalifications and closures, applied by the weekly rebuild), `backoffice` and `demo`.
"""

from __future__ import annotations

from qualification.accessibility import e2sfca
from qualification.applications import (
    APPLICATION_MACHINE,
    MAX_DOCUMENT_BYTES,
    add_site,
    applications_of,
    create_application,
    document_path,
    get_application,
    mark_complete,
    return_to_draft,
    set_bank_details,
    store_document,
    submit_application,
    transition,
    upload_storage,
)
from qualification.backoffice import ReviewRow, proposals_under_review, review_queue
from qualification.checklist import (
    DOCUMENT_LABELS,
    ChecklistItem,
    accept_bank_holder,
    checklist,
    missing_items,
    required_documents,
    status_explanation,
)
from qualification.claims import claim_venue, claimable_venues, claiming_organisations
from qualification.decisions import decide, decisions_of, proposals, qualify_by_hand, reject_application
from qualification.density import (
    DensityModel,
    Proposal,
    TerritoryDensity,
    commune_accessibility,
    density_outlines,
    density_table,
    territory_density,
)
from qualification.quotas import (
    QUOTA_LEVELS,
    Policy,
    clear_override,
    compute_quota,
    current_policy,
    list_overrides,
    set_override,
    set_policy,
)
from qualification.venue_changes import apply_pending_changes, change_venue_status, schedule_venue_change
from qualification.waitlist import enforce_quotas, waitlist

__all__ = [
    "APPLICATION_MACHINE",
    "DOCUMENT_LABELS",
    "MAX_DOCUMENT_BYTES",
    "QUOTA_LEVELS",
    "ChecklistItem",
    "DensityModel",
    "Policy",
    "Proposal",
    "ReviewRow",
    "TerritoryDensity",
    "add_site",
    "applications_of",
    "apply_pending_changes",
    "change_venue_status",
    "accept_bank_holder",
    "checklist",
    "claim_venue",
    "claimable_venues",
    "claiming_organisations",
    "clear_override",
    "commune_accessibility",
    "compute_quota",
    "create_application",
    "current_policy",
    "list_overrides",
    "decide",
    "decisions_of",
    "density_outlines",
    "density_table",
    "document_path",
    "e2sfca",
    "enforce_quotas",
    "get_application",
    "mark_complete",
    "missing_items",
    "proposals",
    "proposals_under_review",
    "qualify_by_hand",
    "reject_application",
    "required_documents",
    "return_to_draft",
    "review_queue",
    "schedule_venue_change",
    "set_bank_details",
    "set_override",
    "set_policy",
    "status_explanation",
    "store_document",
    "submit_application",
    "territory_density",
    "transition",
    "upload_storage",
    "waitlist",
]
