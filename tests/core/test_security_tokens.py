"""Access tokens: a verified token is remembered per process, but expiry, type and signature still hold on
every use."""

from __future__ import annotations

from datetime import timedelta

import pytest

from xingcheng.core import security
from xingcheng.core.errors import Unauthorized
from xingcheng.core.security import decode_token, issue_token

KEY = "token-test-key-that-is-long-enough-0123456789"


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token, claims = issue_token(key=KEY, subject="7", token_type="access", lifetime=timedelta(minutes=5))
    assert decode_token(token, key=KEY, expected_type="access").subject == "7"
    assert decode_token(token, key=KEY, expected_type="access") == claims.__class__(
        subject="7", token_type="access", jti=claims.jti, expires_at=claims.expires_at.replace(microsecond=0))
    later = claims.expires_at.timestamp() + 1
    monkeypatch.setattr(security.time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(token, key=KEY, expected_type="access")


def test_type_and_signature_are_checked_on_every_use() -> None:
    token, _ = issue_token(key=KEY, subject="7", token_type="refresh", lifetime=timedelta(minutes=5))
    decode_token(token, key=KEY, expected_type="refresh")
    with pytest.raises(Unauthorized, match="refresh token was given where a access token"):
        decode_token(token, key=KEY, expected_type="access")
    with pytest.raises(Unauthorized, match="not valid"):
        decode_token(token, key=KEY + "-rotated", expected_type="refresh")
    head, payload, signature = token.split(".")
    with pytest.raises(Unauthorized, match="not valid"):
        decode_token(f"{head}.{payload}.{signature[:-2]}AA", key=KEY, expected_type="refresh")


def test_an_already_expired_token_is_refused_the_first_time() -> None:
    token, _ = issue_token(key=KEY, subject="7", token_type="access", lifetime=timedelta(seconds=-1))
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(token, key=KEY, expected_type="access")
