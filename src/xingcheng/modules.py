"""The one list of scenario packages. Adding a scenario = adding its ``module`` here."""

from __future__ import annotations

from xingcheng.core.module import module as core
from xingcheng.core.registry import Module
from xingcheng.datahub.catalog.module import module as catalog
from xingcheng.datahub.exchange.module import module as exchange
from xingcheng.datahub.opendata.module import module as opendata
from xingcheng.datahub.quality.module import module as quality
from xingcheng.datahub.registries.module import module as registries
from xingcheng.egov.applications.module import module as applications
from xingcheng.egov.policy.module import module as policy
from xingcheng.egov.qa.module import module as qa
from xingcheng.egov.services.module import module as services
from xingcheng.governance.requests.module import module as requests
from xingcheng.governance.traffic.module import module as traffic
from xingcheng.iot.module import module as iot
from xingcheng.workflow.module import module as workflow

MODULES: list[Module] = [
    core, registries, catalog, quality, exchange, opendata, workflow, services, applications,
    iot, policy, qa, requests, traffic,
]
