"""The one list of scenario packages. Adding a scenario = adding its ``module`` here."""

from __future__ import annotations

from xingcheng.core.module import module as core
from xingcheng.core.registry import Module
from xingcheng.datahub.catalog.module import module as catalog
from xingcheng.datahub.registries.module import module as registries
from xingcheng.egov.services.module import module as services
from xingcheng.iot.module import module as iot
from xingcheng.workflow.module import module as workflow

MODULES: list[Module] = [core, registries, catalog, workflow, services, iot]
