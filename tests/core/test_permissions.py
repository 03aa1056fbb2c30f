"""Every permission a route or service asks for is granted to some role (no dead routes)."""

from __future__ import annotations

import re
from pathlib import Path

import xingcheng
from xingcheng.core.auth import ROLE_PERMISSIONS

ASKED = re.compile(r"""(?:require|\.has|\.require)\(\s*["']([a-z_]+:[a-z_]+)["']""")


def test_every_required_permission_is_granted_to_a_role():
    granted = {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    root = Path(xingcheng.__file__).parent
    asked = {m for path in root.rglob("*.py") for m in ASKED.findall(path.read_text(encoding="utf-8"))}
    assert {"admin:users", "registries:read", "grants:manage"} <= asked, "the pattern misses known checks"
    assert asked - granted == set()
