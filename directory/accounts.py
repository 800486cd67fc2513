"""Accounts: users, memberships in organisations, sign-in, API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from directory.audit import Actor, record_audit
from directory.db import MAX_ID, utcnow
from directory.errors import Conflict, InvalidInput, NotFound
from directory.models import ApiKey, Membership, Organisation, Role, User, Venue
from directory.venue_fields import clean_email

_password_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
API_KEY_SCHEME = "aptic"
API_KEY_USE_PRECISION = timedelta(minutes=15)


def create_user(
    session: Session, actor: Actor, *, email: str, full_name: str, password: str
) -> User:
    email = (email or "").strip().lower()
    clean_email(email, field="email")
    if not (full_name or "").strip():
        raise InvalidInput("Le nom est obligatoire.", field="full_name", code="required")
    _check_password(password)
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"Un compte existe déjà pour {email}.", field="email", code="user_exists")
    user = User(email=email, full_name=full_name.strip(), password_hash=_password_hasher.hash(password))
    session.add(user)
    session.flush()
    record_audit(session, actor, "user.created", "user", user.id, email=email)
    return user


def add_membership(session: Session, actor: Actor, user: User, organisation: Organisation, role: Role | str) -> Membership:
    role = Role(role)
    required_flag = {
        Role.APTIC_STAFF: organisation.is_aptic,
        Role.SPONSOR: organisation.is_sponsor,
        Role.DISTRIBUTOR: organisation.is_distributor,
        Role.VENUE_STAFF: organisation.is_venue_operator,
    }[role]
    if not required_flag:
        raise InvalidInput(
            f"L'organisation « {organisation.name} » n'a pas le rôle requis pour « {role.value} ».",
            field="role", code="role_not_held",
        )
    existing = session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == organisation.id, Membership.role == role
        )
    )
    if existing is not None:
        return existing
    membership = Membership(user=user, organisation=organisation, role=role)
    session.add(membership)
    session.flush()
    record_audit(
        session, actor, "membership.added", "user", user.id, organisation_id=organisation.id, role=role.value
    )
    return membership


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None; rehashes when argon2 parameters changed."""
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.is_active:
        _password_hasher.hash(password or "")  # same cost whether the account exists or not
        return None
    try:
        _password_hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if _password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _password_hasher.hash(password)
    user.last_login_at = utcnow()
    session.flush()
    return user


def sign_in(session: Session, email: str, password: str) -> User | None:
    """`authenticate`, and the successful sign-in written to the audit log."""
    user = authenticate(session, email, password)
    if user is not None:
        record_audit(session, Actor.of_user(user), "user.signed_in", "user", user.id)
    return user


def active_user(session: Session, session_id: str) -> User | None:
    """The account a browser session refers to (`User.get_id`), unless deactivated or its sessions ended since."""
    user_id, _, version = (session_id or "").partition(":")
    if not user_id.isdigit() or not version.isdigit() or int(user_id) > MAX_ID:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


def end_sessions(session: Session, actor: Actor, user: User, reason: str) -> None:
    """Every browser session of the user ends at its next request (sign-out, password change, deactivation)."""
    user.session_version += 1
    session.flush()
    record_audit(session, actor, "user.sessions_ended", "user", user.id, reason=reason)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFound(f"Aucun compte n° {user_id}.", field="user", code="unknown_user")
    return user


def list_users(session: Session, organisation_ids: list[int] | None = None) -> list[User]:
    """Every account (None), or the members of these organisations, by e-mail."""
    query = select(User).order_by(User.email)
    if organisation_ids is not None:
        query = query.where(User.id.in_(select(Membership.user_id).where(Membership.organisation_id.in_(organisation_ids))))
    return list(session.scalars(query))


def set_active(session: Session, actor: Actor, user: User, active: bool) -> None:
    """Deactivate (sign-in refused, sessions ended at once) or reactivate an account."""
    if user.is_active == active:
        return
    if actor.user_id == user.id and not active:
        raise Conflict("Vous ne pouvez pas désactiver votre propre compte.", field="user", code="self_deactivation")
    user.is_active = active
    session.flush()
    record_audit(session, actor, "user.reactivated" if active else "user.deactivated", "user", user.id)
    if not active:
        end_sessions(session, actor, user, "deactivated")


def set_password(session: Session, actor: Actor, user: User, password: str) -> None:
    """A new password; the user's other sessions end."""
    _check_password(password)
    user.password_hash = _password_hasher.hash(password)
    session.flush()
    record_audit(session, actor, "user.password_changed", "user", user.id)
    end_sessions(session, actor, user, "password_changed")


def check_password(user: User, password: str) -> bool:
    try:
        return _password_hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.",
            field="password", code="weak_password",
        )


def may_see_organisation(user: User, organisation: Organisation) -> bool:
    """APTIC staff see every organisation; other users the organisations they are members of."""
    return user.has_role(Role.APTIC_STAFF) or any(m.organisation_id == organisation.id for m in user.memberships)


def create_api_key(
    session: Session, actor: Actor, organisation: Organisation, label: str, venue: Venue | None = None
) -> tuple[ApiKey, str]:
    """A new key; the clear token is returned once and never stored."""
    if venue is not None and venue.organisation_id != organisation.id:
        raise InvalidInput("Ce lieu n'appartient pas à cette organisation.", field="venue", code="venue_not_owned")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        prefix=prefix,
        secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
        organisation=organisation,
        venue=venue,
        label=(label or "").strip() or "Clé API",
    )
    session.add(key)
    session.flush()
    record_audit(
        session, actor, "api_key.created", "organisation", organisation.id,
        prefix=prefix, venue_id=venue.id if venue else None, label=key.label,
    )
    return key, f"{API_KEY_SCHEME}_{prefix}_{secret}"


def authenticate_api_key(session: Session, token: str) -> ApiKey | None:
    parts = (token or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_SCHEME:
        return None
    # The scanner's venue comes with its key: one statement authenticates a scan.
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]).options(joinedload(ApiKey.venue).joinedload(Venue.organisation)))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, hashlib.sha256(parts[2].encode()).hexdigest()):
        return None
    now = utcnow()
    # Scanners call on every cheque: record use every quarter of an hour rather than write on each scan.
    if key.last_used_at is None or now - key.last_used_at >= API_KEY_USE_PRECISION:
        key.last_used_at = now
        session.flush()
    return key


def revoke_api_key(session: Session, actor: Actor, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        record_audit(session, actor, "api_key.revoked", "organisation", key.organisation_id, prefix=key.prefix)


def list_api_keys(session: Session, organisation_ids: list[int] | None = None) -> list[ApiKey]:
    """Every key (None) or the keys of these organisations, newest first."""
    query = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    if organisation_ids is not None:
        query = query.where(ApiKey.organisation_id.in_(organisation_ids))
    return list(session.scalars(query))


def get_api_key(session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id) if 0 < key_id <= MAX_ID else None
    if key is None:
        raise NotFound(f"Aucune clé d'API n° {key_id}.", field="key", code="unknown_api_key")
    return key


def find_api_key(session: Session, id_or_prefix: str) -> ApiKey:
    """A key by its number or by the prefix shown in `aptic_<prefix>_…`."""
    key = None
    if id_or_prefix.isdigit():
        key = session.get(ApiKey, int(id_or_prefix)) if int(id_or_prefix) <= MAX_ID else None
    if key is None:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == id_or_prefix))
    if key is None:
        raise NotFound(f"Aucune clé d'API « {id_or_prefix} ».", field="key", code="unknown_api_key")
    return key


def venue_operator_ids(user: User) -> list[int]:
    """The organisations whose venues the user works at (whose API keys they manage)."""
    return sorted({m.organisation_id for m in user.memberships if m.role == Role.VENUE_STAFF})
