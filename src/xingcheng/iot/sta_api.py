"""``/sta/v1.1``: the OGC SensorThings API v1.1 read subset (see ``iot.sensorthings`` for what is implemented).

Reads need ``iot:read`` (a staff token, or a device/partner API key with that role): sensor
positions of gas pipes and bridges are not public. Errors use SensorThings' JSON error body
(``core.problems`` chooses it by prefix).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from xingcheng.core.auth import Principal
from xingcheng.core.deps import DbSession, require
from xingcheng.iot.sensorthings import SensorThings, parse_path, parse_query, service_root
from xingcheng.iot.store import ObservationStore, request_store

router = APIRouter(prefix="/sta/v1.1", tags=["sensorthings"])
Store = Annotated[ObservationStore, Depends(request_store, scope="function")]
Reader = Annotated[Principal, Depends(require("iot:read"))]


def _base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}/sta/v1.1"


@router.get("", operation_id="sta-service-root")
def root(request: Request, _: Reader) -> Any:
    """The service root: the entity sets and the conformance classes."""
    return service_root(_base(request))


@router.get("/{resource:path}", operation_id="sta-read")
def read(
    request: Request, session: DbSession, store: Store, _: Reader,
    resource: Annotated[str, Path(max_length=300, description="e.g. Things, Things(1)/Datastreams, Observations('12_…')")],
) -> Any:
    """Entity sets, single entities and one level of navigation, with $top/$skip/$count/$filter/$orderby/$expand."""
    if resource.strip("/") == "":
        return service_root(_base(request))
    return SensorThings(session, store, _base(request)).read(
        parse_path(resource), parse_query(dict(request.query_params)), str(request.url))
