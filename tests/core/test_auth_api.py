"""Login, lockout, refresh rotation, device API keys and the role matrix, through HTTP."""

from __future__ import annotations

import pytest

from xc_testing import DEMO_PASSWORDS, login

PROBLEM = "application/problem+json"


def test_login_issues_tokens_and_me_reports_roles(client):
    headers = login(client, "clerk")
    me = client.get("/api/v1/auth/me", headers=headers).json()
    assert me["name"] == "clerk"
    assert me["roles"] == ["department_staff"]
    assert me["department_code"] == "xzsp"
    assert me["division_code"] == "430100"
    assert "registries:read" in me["permissions"]


def test_wrong_password_is_401_problem(client):
    response = client.post("/api/v1/auth/token", data={"username": "clerk", "password": "nope-nope"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 401 and body["detail"] == "wrong username or password"
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client):
    response = client.post("/api/v1/auth/token", data={"username": "ghost", "password": "whatever1"})
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong username or password"


def test_five_failures_lock_the_username_even_for_the_right_password(client):
    for _ in range(5):
        assert client.post("/api/v1/auth/token", data={"username": "operator", "password": "bad-guess"}).status_code == 401
    locked = client.post("/api/v1/auth/token", data={"username": "operator", "password": DEMO_PASSWORDS["operator"]})
    assert locked.status_code == 429
    assert locked.headers["content-type"] == PROBLEM
    assert int(locked.headers["retry-after"]) == 15 * 60
    assert "too many failed logins" in locked.json()["detail"]
    # Other users are unaffected.
    assert client.post("/api/v1/auth/token", data={"username": "clerk", "password": DEMO_PASSWORDS["clerk"]}).status_code == 200


def test_a_success_resets_the_failure_count(client):
    for _ in range(4):
        client.post("/api/v1/auth/token", data={"username": "steward", "password": "bad-guess"})
    login(client, "steward")
    for _ in range(4):
        client.post("/api/v1/auth/token", data={"username": "steward", "password": "bad-guess"})
    login(client, "steward")


def test_refresh_token_works_once(client):
    tokens = client.post("/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORDS["admin"]}).json()
    renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert renewed.status_code == 200
    assert renewed.json()["access_token"] != tokens["access_token"]
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401
    assert "already used" in reused.json()["detail"]


def test_access_token_is_not_a_refresh_token(client):
    tokens = client.post("/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORDS["admin"]}).json()
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401


def test_tampered_token_is_rejected(client):
    headers = login(client, "admin")
    token = headers["Authorization"].removeprefix("Bearer ")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


def test_device_api_key_is_shown_once_works_and_can_be_revoked(client, auth):
    created = client.post(
        "/api/v1/admin/api-keys", json={"name": "岳麓区空气站 01", "device_key": "aqs-430104-01"}, headers=auth("admin")
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("xck_")
    listed = client.get("/api/v1/admin/api-keys", headers=auth("admin")).json()
    assert all("key" not in item for item in listed)
    me = client.get("/api/v1/auth/me", headers={"X-API-Key": key}).json()
    assert me["kind"] == "device" and me["roles"] == ["device"]
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key[:-2] + "xx"}).status_code == 401
    client.post(f"/api/v1/admin/api-keys/{created.json()['id']}/revoke", headers=auth("admin"))
    revoked = client.get("/api/v1/auth/me", headers={"X-API-Key": key})
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]


def test_admin_creates_accounts_with_validated_identity_numbers(client, auth):
    bad = client.post(
        "/api/v1/admin/users",
        json={"username": "zhangsan", "display_name": "张三", "password": "Passw0rd!x", "kind": "citizen",
              "roles": ["citizen"], "id_number": "430102199001011235"},
        headers=auth("admin"),
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == PROBLEM
    assert any(e["field"] == "id_number" and "check digit" in e["message"] for e in bad.json()["errors"])
    good = client.post(
        "/api/v1/admin/users",
        json={"username": "zhangsan", "display_name": "张三", "password": "Passw0rd!x", "kind": "citizen",
              "roles": ["citizen"], "id_number": "11010519491231002X"},
        headers=auth("admin"),
    )
    assert good.status_code == 201, good.text
    login(client, "zhangsan", "Passw0rd!x")
    duplicate = client.post(
        "/api/v1/admin/users",
        json={"username": "zhangsan", "display_name": "张三", "password": "Passw0rd!x", "kind": "citizen",
              "roles": ["citizen"], "id_number": "11010519491231002X"},
        headers=auth("admin"),
    )
    assert duplicate.status_code == 409
    wrong_role = client.post(
        "/api/v1/admin/users",
        json={"username": "lisi", "display_name": "李四", "password": "Passw0rd!x", "kind": "citizen",
              "roles": ["admin"], "id_number": "11010519491231002X"},
        headers=auth("admin"),
    )
    assert wrong_role.status_code == 422


# ---- the role matrix: every role against every protected endpoint class ---------------------

ROLES = ["admin", "steward", "clerk", "operator", "citizen", "enterprise", "device", "anonymous"]
# endpoint class → (method, path, body, roles allowed)
ENDPOINTS = {
    "me": ("GET", "/api/v1/auth/me", None, {"admin", "steward", "clerk", "operator", "citizen", "enterprise", "device"}),
    "inbox": ("GET", "/api/v1/notifications", None, {"admin", "steward", "clerk", "operator", "citizen", "enterprise", "device"}),
    "users": ("GET", "/api/v1/admin/users", None, {"admin"}),
    "api_keys": ("GET", "/api/v1/admin/api-keys", None, {"admin"}),
    "directory": ("GET", "/api/v1/admin/departments", None, {"admin", "steward", "clerk", "operator"}),
    "registry_read": ("GET", "/api/v1/registries/persons?limit=2", None, {"admin", "steward", "clerk"}),
    "cockpit": ("GET", "/api/v1/registries/stats/districts", None, {"admin", "steward", "clerk", "operator"}),
    "send_notice": ("POST", "/api/v1/notifications",
                    {"recipient_kind": "department", "recipient_key": "gaj", "title": "通知"},
                    {"admin", "steward", "clerk", "operator"}),
}


@pytest.fixture
def role_headers(client, auth):
    key = client.post("/api/v1/admin/api-keys", json={"name": "matrix device"}, headers=auth("admin")).json()["key"]

    def headers(role: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        if role == "device":
            return {"X-API-Key": key}
        return auth(role)

    return headers


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(client, role_headers, endpoint, role):
    method, path, body, allowed = ENDPOINTS[endpoint]
    response = client.request(method, path, json=body, headers=role_headers(role))
    if role == "anonymous":
        expected = 401
    elif role in allowed:
        expected = 201 if method == "POST" else 200
    else:
        expected = 403
    assert response.status_code == expected, f"{role} {method} {path}: {response.text}"
    if expected >= 400:
        assert response.headers["content-type"] == PROBLEM


def test_logins_and_key_changes_are_audited(client, auth, any_db):
    from sqlalchemy import select

    from xingcheng.core.audit.models import AuditEntry

    client.post("/api/v1/auth/token", data={"username": "clerk", "password": "bad-guess"})
    client.post("/api/v1/admin/api-keys", json={"name": "审计测试"}, headers=auth("admin"))
    entries = any_db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(10)).all()
    seen = {(e.actor_name, e.action, e.result) for e in entries}
    assert ("clerk", "auth.login", "denied") in seen
    assert ("admin", "api_key.create", "ok") in seen


def test_a_disabled_account_or_a_removed_role_counts_from_the_next_request(client, any_db):
    # The principal behind a token is cached per process (core.refcache); a change clears it when it commits.
    from sqlalchemy import select

    from xingcheng.core.identity.models import Account, AccountRole

    headers = login(client, "clerk")
    assert client.get("/api/v1/auth/me", headers=headers).json()["roles"] == ["department_staff"]
    account = any_db.scalar(select(Account).where(Account.username == "clerk"))
    account.role_links.append(AccountRole(role="operator"))
    any_db.commit()
    assert client.get("/api/v1/auth/me", headers=headers).json()["roles"] == ["department_staff", "operator"]
    account.is_active = False
    any_db.commit()
    refused = client.get("/api/v1/auth/me", headers=headers)
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
