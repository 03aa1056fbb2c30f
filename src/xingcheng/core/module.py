"""The core's declaration: login, directory, accounts, keys, inbox; the city skeleton demo steps."""

from __future__ import annotations

from fastapi import APIRouter

from xingcheng.core.audit import api as audit_api
from xingcheng.core.grants import api as grants_api
from xingcheng.core.identity import api as identity_api
from xingcheng.core.identity.demo import DEMO_STEPS
from xingcheng.core.notifications import api as notifications_api
from xingcheng.core.registry import Module, NavEntry

router = APIRouter()
router.include_router(identity_api.router)
router.include_router(notifications_api.router)
router.include_router(grants_api.router)
router.include_router(audit_api.router)

module = Module(
    name="core",
    router=router,
    public_router=identity_api.public_router,  # login must work before one has a token
    demo_steps=DEMO_STEPS,
    nav=(
        NavEntry("system", "用户与角色", "/console/system/users", icon="group", permission="admin:users"),
        NavEntry("system", "部门与区划", "/console/system/departments", icon="account_tree", permission="directory:read"),
        NavEntry("system", "消息通知", "/console/system/notifications", icon="notifications"),
    ),
)
