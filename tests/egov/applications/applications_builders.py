"""Builders for application tests (a unique module name: nested conftest files shadow each other)."""

from __future__ import annotations

from typing import Any

from xc_testing import login

PDF = b"%PDF-1.7\n% a scanned material\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"
CLERK_PASSWORD = "Clerk@2026"
_TOKENS: dict[tuple[str, str], dict[str, str]] = {}


def clerk_headers(client: Any, any_db: Any, department: str) -> dict[str, str]:
    """Bearer headers for the demo clerk of ``department`` (``<code>_clerk``)."""
    key = (any_db.get_bind().engine.url.get_backend_name(), department)
    if key not in _TOKENS:
        _TOKENS[key] = login(client, f"{department}_clerk", CLERK_PASSWORD)
    return _TOKENS[key]


def upload(client: Any, headers: dict[str, str], name: str = "material.pdf", content: bytes = PDF,
           content_type: str = "application/pdf") -> int:
    response = client.post("/api/v1/applications/uploads", headers=headers,
                           files={"file": (name, content, content_type)})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def provide_all(client: Any, headers: dict[str, str], code: str) -> list[dict[str, Any]]:
    """An upload for each material the form says this applicant must provide."""
    form = client.get(f"/api/v1/applications/forms/{code}", headers=headers)
    assert form.status_code == 200, form.text
    return [{"name": m["name"], "upload_id": upload(client, headers)} for m in form.json()["materials"]
            if m["provision"] is None]


def submit(client: Any, headers: dict[str, str], code: str, form: dict[str, Any] | None = None,
           key: str | None = None) -> dict[str, Any]:
    body = {"item_code": code, "form": form or {"contact_phone": "13874811111"},
            "materials": provide_all(client, headers, code)}
    response = client.post("/api/v1/applications", headers={**headers, **({"Idempotency-Key": key} if key else {})},
                           json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def open_task(client: Any, clerk: dict[str, str], number: str) -> dict[str, Any]:
    inbox = client.get("/api/v1/applications/inbox?limit=1000", headers=clerk)
    assert inbox.status_code == 200, inbox.text
    entry: dict[str, Any] = next(e for e in inbox.json()["items"] if e["application"]["number"] == number)
    return entry


def decide(client: Any, clerk: dict[str, str], task_id: int, action: str = "approve", reason: str = "",
           version: int | None = None) -> Any:
    return client.post(f"/api/v1/applications/tasks/{task_id}/decision", headers=clerk,
                       json={"action": action, "reason": reason, **({"version": version} if version else {})})
