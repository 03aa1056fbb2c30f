"""Helpers shared by test modules (a unique name: nested conftest files shadow ``conftest``)."""

from __future__ import annotations

DEMO_PASSWORDS = {
    "admin": "Admin@2026", "steward": "Steward@2026", "clerk": "Clerk@2026",
    "operator": "Operator@2026", "citizen": "Citizen@2026", "enterprise": "Enterprise@2026",
}


def login(test_client, username: str, password: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Bearer headers for a demo user."""
    response = test_client.post(
        "/api/v1/auth/token", data={"username": username, "password": password or DEMO_PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
