"""Every table's module imported once, so the metadata Alembic compares against is complete."""

from __future__ import annotations

import xingcheng.core.audit.models
import xingcheng.core.grants.models
import xingcheng.core.identity.models
import xingcheng.core.notifications.models
import xingcheng.datahub.catalog.models
import xingcheng.datahub.exchange.models
import xingcheng.datahub.opendata.models
import xingcheng.datahub.quality.models
import xingcheng.datahub.registries.models
import xingcheng.egov.applications.models
import xingcheng.egov.policy.models
import xingcheng.egov.qa.models
import xingcheng.egov.services.models
import xingcheng.governance.requests.models
import xingcheng.governance.traffic.models
import xingcheng.iot.models
import xingcheng.workflow.models  # noqa: F401
from xingcheng.core.db import Base

target_metadata = Base.metadata
