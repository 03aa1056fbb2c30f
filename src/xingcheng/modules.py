"""The one list of scenario packages. Adding a scenario = adding its ``module`` here."""

from __future__ import annotations

from xingcheng.core.module import module as core
from xingcheng.core.registry import Module
from xingcheng.datahub.registries.module import module as registries

MODULES: list[Module] = [core, registries]
