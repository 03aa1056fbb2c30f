"""Password hashing (Argon2id), JWT access/refresh tokens, device API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from xingcheng.core.db import utcnow
from xingcheng.core.errors import Unauthorized

_hasher = PasswordHasher()
ALGORITHM = "HS256"
API_KEY_PREFIX = "xck_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Checked against when the username is unknown, so timing does not reveal which accounts exist.
DUMMY_PASSWORD_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    token_type: str
    jti: str
    expires_at: datetime


def issue_token(
    *, key: str, subject: str, token_type: str, lifetime: timedelta, extra: dict[str, Any] | None = None
) -> tuple[str, TokenClaims]:
    now = utcnow()
    claims = TokenClaims(subject=subject, token_type=token_type, jti=uuid.uuid4().hex, expires_at=now + lifetime)
    payload: dict[str, Any] = {
        "sub": subject, "typ": token_type, "jti": claims.jti, "iat": now, "exp": claims.expires_at,
        "iss": "xingcheng",
    }
    payload.update(extra or {})
    return jwt.encode(payload, key, algorithm=ALGORITHM), claims


@lru_cache(maxsize=4096)
def _verified_payload(token: str, key: str) -> Mapping[str, Any]:
    """The payload of a token whose signature and issuer check out. A client sends the same token with every
    request until it expires: verifying it once per process saves the HMAC and JSON work of the rest. Expiry
    is checked by the caller on every use; a token that fails raises and is not remembered."""
    payload = jwt.decode(token, key, algorithms=[ALGORITHM], issuer="xingcheng",
                         options={"require": ["exp", "sub", "jti"], "verify_exp": False})
    return MappingProxyType(payload)


def decode_token(token: str, *, key: str, expected_type: str) -> TokenClaims:
    try:
        payload = _verified_payload(token, key)
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("the token is not valid") from exc
    if not isinstance(payload["exp"], int | float) or payload["exp"] <= time.time():
        raise Unauthorized("the token has expired; log in again or refresh it")
    if payload.get("typ") != expected_type:
        raise Unauthorized(f"a {payload.get('typ')} token was given where a {expected_type} token is needed")
    return TokenClaims(
        subject=str(payload["sub"]), token_type=expected_type, jti=str(payload["jti"]),
        expires_at=datetime.fromtimestamp(payload["exp"], tz=utcnow().tzinfo),
    )


def new_api_key() -> tuple[str, str, str]:
    """A fresh key as (full secret shown once, lookup prefix, stored hash)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    full = f"{API_KEY_PREFIX}{prefix}_{secret}"
    return full, prefix, hash_api_key(full)


def hash_api_key(full_key: str) -> str:
    # The key carries 256 random bits, so a fast hash is enough; Argon2 would only slow ingest.
    return hashlib.sha256(full_key.encode()).hexdigest()


def split_api_key(full_key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    if not full_key.startswith(API_KEY_PREFIX):
        return None
    rest = full_key.removeprefix(API_KEY_PREFIX)
    prefix, sep, secret = rest.partition("_")
    if not sep or len(prefix) != 12 or not secret:
        return None
    return prefix


def api_key_matches(full_key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(full_key), stored_hash)
