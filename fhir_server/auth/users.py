"""The clinic's user accounts: creating and listing them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.auth.passwords import hash_password
from fhir_server.db import Organization, User
from fhir_server.db.vocab import USER_ROLES


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively: they are stored trimmed and lower-cased."""
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email:
        raise UserError(f"not an email address: {email!r}")
    return email


def new_password_hash(password: str) -> str:
    """The stored hash of a new password; raises UserError when the password breaks the rules (every way a password
    is set: user creation, password reset)."""
    try:
        return hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def create_user(
    session: Session,
    *,
    organization: Organization,
    email: str,
    password: str,
    role: str,
    full_name: str,
    practitioner_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> User:
    """Add a user to ``organization``; raises UserError for a bad role, email, password or a taken email."""
    if role not in USER_ROLES:
        raise UserError(f"unknown role {role!r}; one of: {', '.join(USER_ROLES)}")
    email = normalize_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserError(f"a user with email {email} already exists")
    password_hash = new_password_hash(password)
    user = User(
        organization_id=organization.id,
        email=email,
        password_hash=password_hash,
        role=role,
        full_name=full_name.strip(),
        practitioner_id=practitioner_id,
        patient_id=patient_id,
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, organization_id: uuid.UUID | None = None) -> Sequence[User]:
    """Every user not deleted, optionally of one clinic, ordered by email."""
    query = select(User).where(User.deleted_at.is_(None)).order_by(User.email)
    if organization_id is not None:
        query = query.where(User.organization_id == organization_id)
    return session.scalars(query).all()
