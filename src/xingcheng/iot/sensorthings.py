"""OGC SensorThings API v1.1 (read subset) over the sensor registry and the observation store.

Implements (OGC 18-088, SensorThings API Part 1: Sensing v1.1):
- resource paths (§9.2): ``/Things``, ``/Things(id)``, ``/Things(id)/Datastreams``, ``/Things(id)/Locations``,
  ``/Locations``, ``/Sensors``, ``/ObservedProperties``, ``/Datastreams``, ``/Datastreams(id)/Observations``,
  ``/Datastreams(id)/Thing|Sensor|ObservedProperty``, ``/Observations``, ``/Observations('id')``;
- query options (§9.3): ``$top`` (default 100, at most 1000), ``$skip``, ``$count``, ``$orderby``
  (one property, ``asc``/``desc``), ``$filter`` with ``eq ne gt ge lt le`` joined by ``and`` on
  ``id``, ``name``, ``description``, ``properties/<key>`` and, for observations, ``phenomenonTime``
  and ``result``, ``$expand`` of one level of navigation properties (``Datastreams``, ``Locations``,
  ``Thing``, ``Sensor``, ``ObservedProperty``, ``Observations``), ``@iot.nextLink`` paging (§9.3.3.5).

Locations: each Thing has one, with the Thing's id. Observations have string ids
``<datastream id>_<phenomenon time in µs since the epoch>`` because the store keys them by
(datastream, time). Everything here is plain data; ``sta_api`` turns it into HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from xingcheng.core.errors import BadRequest, NotFound
from xingcheng.iot import catalogue
from xingcheng.iot.models import Datastream, ObservedProperty, Sensor, Thing
from xingcheng.iot.store import ObservationFilter, ObservationStore

DEFAULT_TOP, MAX_TOP = 100, 1000
ENTITY_SETS = ("Things", "Locations", "Sensors", "ObservedProperties", "Datastreams", "Observations")
NAVIGATION: dict[str, dict[str, str]] = {  # entity set → navigation property → target set
    "Things": {"Datastreams": "Datastreams", "Locations": "Locations"},
    "Locations": {"Things": "Things"},
    "Sensors": {"Datastreams": "Datastreams"},
    "ObservedProperties": {"Datastreams": "Datastreams"},
    "Datastreams": {"Thing": "Things", "Sensor": "Sensors", "ObservedProperty": "ObservedProperties",
                    "Observations": "Observations"},
    "Observations": {"Datastream": "Datastreams"},
}
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<id>\d+|'[^']*')\))?$")
_CLAUSE = re.compile(r"^\s*(?P<path>[A-Za-z_@./]+)\s+(?P<op>eq|ne|gt|ge|lt|le)\s+(?P<value>'(?:[^']|'')*'|\S+)\s*$")
OPS = ("eq", "ne", "gt", "ge", "lt", "le")


@dataclass(frozen=True)
class Clause:
    path: str
    op: str
    value: Any


@dataclass(frozen=True)
class Query:
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    orderby: tuple[str, bool] | None = None  # (property, descending)
    filters: tuple[Clause, ...] = ()
    expand: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resource:
    entity_set: str
    entity_id: int | str | None = None
    parent: tuple[str, int | str] | None = None  # (entity set, id) for /Things(1)/Datastreams
    single_navigation: bool = False  # /Datastreams(1)/Thing answers one entity


# ---- parsing ---------------------------------------------------------------------------------

def parse_path(path: str) -> Resource:
    segments = [s for s in path.strip("/").split("/") if s]
    if not segments or len(segments) > 2:
        raise NotFound(f"no SensorThings resource at '/{path}'")
    parsed = []
    for segment in segments:
        match = _SEGMENT.match(segment)
        if match is None:
            raise NotFound(f"'{segment}' is not a SensorThings path segment")
        raw = match.group("id")
        parsed.append((match.group("name"), None if raw is None else (raw.strip("'") if raw.startswith("'") else int(raw))))
    (name, entity_id) = parsed[0]
    if name not in ENTITY_SETS:
        raise NotFound(f"no entity set '{name}'")
    if len(parsed) == 1:
        return Resource(name, entity_id)
    nav, nav_id = parsed[1]
    if entity_id is None or nav_id is not None or nav not in NAVIGATION[name]:
        raise NotFound(f"no navigation '{nav}' from {name}")
    target = NAVIGATION[name][nav]
    return Resource(target, parent=(name, entity_id), single_navigation=not nav.endswith("s"))


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"cannot read the literal '{text}' in $filter") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_query(params: dict[str, str]) -> Query:
    def integer(name: str, default: int, low: int, high: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise BadRequest(f"{name} must be an integer between {low} and {high}")
        return int(raw)

    clauses: list[Clause] = []
    text = (params.get("$filter") or "").strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if text:
        for part in re.split(r"\s+and\s+", text):
            match = _CLAUSE.match(part.strip().strip("()"))
            if match is None:
                raise BadRequest(f"unsupported $filter expression '{part.strip()}': use <property> eq|ne|gt|ge|lt|le "
                                 "<literal>, joined by 'and'")
            clauses.append(Clause(match.group("path"), match.group("op"), _literal(match.group("value"))))
    orderby = None
    if params.get("$orderby"):
        words = params["$orderby"].split(",")[0].split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise BadRequest("$orderby takes one property and optionally asc or desc")
        orderby = (words[0], len(words) == 2 and words[1].lower() == "desc")
    expand = tuple(e.strip().split("(")[0].split("/")[0] for e in (params.get("$expand") or "").split(",") if e.strip())
    count = (params.get("$count") or "false").lower()
    if count not in ("true", "false"):
        raise BadRequest("$count must be true or false")
    return Query(top=integer("$top", DEFAULT_TOP, 0, MAX_TOP), skip=integer("$skip", 0, 0, 10**9), count=count == "true",
                 orderby=orderby, filters=tuple(clauses), expand=expand)


# ---- registry entity sets ---------------------------------------------------------------------

def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    comparison: ColumnElement[bool] = {"eq": column == value, "ne": column != value, "gt": column > value,
                                       "ge": column >= value, "lt": column < value, "le": column <= value}[op]
    return comparison


_COLUMNS: dict[str, dict[str, Any]] = {
    "Things": {"id": Thing.id, "@iot.id": Thing.id, "name": Thing.name, "description": Thing.kind,
               "properties/key": Thing.key, "properties/kind": Thing.kind, "properties/division_code": Thing.division_code,
               "properties/department": Thing.department_code, "properties/status": Thing.status},
    "Locations": {"id": Thing.id, "@iot.id": Thing.id, "name": Thing.name},
    "Sensors": {"id": Sensor.id, "@iot.id": Sensor.id, "name": Sensor.name, "description": Sensor.description,
                "properties/key": Sensor.key},
    "ObservedProperties": {"id": ObservedProperty.id, "@iot.id": ObservedProperty.id, "name": ObservedProperty.label,
                           "definition": ObservedProperty.definition, "description": ObservedProperty.name,
                           "properties/key": ObservedProperty.name},
    "Datastreams": {"id": Datastream.id, "@iot.id": Datastream.id, "name": Datastream.key,
                    "properties/key": Datastream.key, "unitOfMeasurement/symbol": Datastream.unit,
                    "Thing/id": Datastream.thing_id, "ObservedProperty/id": Datastream.observed_property_id,
                    "Sensor/id": Datastream.sensor_id},
}
_MODELS: dict[str, Any] = {"Things": Thing, "Locations": Thing, "Sensors": Sensor, "ObservedProperties": ObservedProperty,
                           "Datastreams": Datastream}


class SensorThings:
    """Answers one request: ``base`` is the service root URL, used for self and navigation links."""

    def __init__(self, session: Session, store: ObservationStore, base: str) -> None:
        self.session, self.store, self.base = session, store, base.rstrip("/")

    # ---- entity documents -------------------------------------------------------------------

    def _links(self, entity_set: str, entity_id: int | str) -> dict[str, Any]:
        ident = f"'{entity_id}'" if isinstance(entity_id, str) else str(entity_id)
        self_link = f"{self.base}/{entity_set}({ident})"
        links: dict[str, Any] = {"@iot.id": entity_id, "@iot.selfLink": self_link}
        for nav in NAVIGATION[entity_set]:
            links[f"{nav}@iot.navigationLink"] = f"{self_link}/{nav}"
        return links

    def _document(self, entity_set: str, row: Any) -> dict[str, Any]:
        kinds = catalogue.kinds()
        if entity_set == "Things":
            label = kinds[row.kind].label if row.kind in kinds else row.kind
            return {**self._links("Things", row.id), "name": row.name, "description": label, "properties": {
                "key": row.key, "kind": row.kind, "department": row.department_code, "division_code": row.division_code,
                "status": row.status, "install_date": row.install_date.isoformat() if row.install_date else None}}
        if entity_set == "Locations":
            return {**self._links("Locations", row.id), "name": row.name, "description": f"{row.name}安装位置",
                    "encodingType": "application/geo+json", "location": {"type": "Point", "coordinates": [row.lon, row.lat]}}
        if entity_set == "Sensors":
            return {**self._links("Sensors", row.id), "name": row.name, "description": row.description or row.name,
                    "encodingType": row.encoding_type, "metadata": "", "properties": {"key": row.key}}
        if entity_set == "ObservedProperties":
            return {**self._links("ObservedProperties", row.id), "name": row.label, "definition": row.definition,
                    "description": row.name, "properties": {"key": row.name}}
        return {**self._links("Datastreams", row.id), "name": row.key, "description": row.key,
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": row.unit, "symbol": row.unit,
                                      "definition": f"https://ucum.org/ucum#{row.unit}"},
                "properties": {"key": row.key, "expected_interval_s": row.expected_interval_s,
                               "valid_min": row.valid_min, "valid_max": row.valid_max, "value_type": row.value_type}}

    def _observation(self, datastream_id: int, moment: datetime, value: float) -> dict[str, Any]:
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        micros = int(aware.timestamp() * 1_000_000)
        stamp = aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return {**self._links("Observations", f"{datastream_id}_{micros}"), "phenomenonTime": stamp,
                "resultTime": stamp, "result": value}

    # ---- reads ------------------------------------------------------------------------------

    def read(self, resource: Resource, query: Query, request_url: str) -> dict[str, Any]:
        if resource.entity_set == "Observations":
            return self._read_observations(resource, query, request_url)
        model = _MODELS[resource.entity_set]
        statement: Select[Any] = select(model)
        if resource.parent is not None:
            statement = self._under_parent(statement, resource)
        if resource.entity_id is not None or resource.single_navigation:
            if resource.entity_id is not None:
                if not isinstance(resource.entity_id, int):
                    raise NotFound(f"{resource.entity_set} ids are integers")
                statement = statement.where(model.id == resource.entity_id)
            row = self.session.scalars(statement.limit(1)).first()
            if row is None:
                raise NotFound(f"no {resource.entity_set} entity with that id")
            return self._expand(resource.entity_set, self._document(resource.entity_set, row), query.expand)
        columns = _COLUMNS[resource.entity_set]
        for clause in query.filters:
            if clause.path not in columns:
                raise BadRequest(f"cannot filter {resource.entity_set} by '{clause.path}'; use one of "
                                 f"{', '.join(sorted(columns))}")
            statement = statement.where(_compare(columns[clause.path], clause.op, clause.value))
        order_column, descending = model.id, False
        if query.orderby:
            if query.orderby[0] not in columns:
                raise BadRequest(f"cannot order {resource.entity_set} by '{query.orderby[0]}'")
            order_column, descending = columns[query.orderby[0]], query.orderby[1]
        statement = statement.order_by(order_column.desc() if descending else order_column, model.id)
        total = self.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) \
            if query.count else None
        rows = list(self.session.scalars(statement.offset(query.skip).limit(query.top + 1)))
        values = [self._expand(resource.entity_set, self._document(resource.entity_set, r), query.expand)
                  for r in rows[:query.top]]
        return self._collection(values, total, query, request_url, more=len(rows) > query.top)

    def _under_parent(self, statement: Select[Any], resource: Resource) -> Select[Any]:
        parent_set, parent_id = resource.parent  # type: ignore[misc]
        if not isinstance(parent_id, int):
            raise NotFound(f"{parent_set} ids are integers")
        target = resource.entity_set
        if parent_set in ("Things", "Locations") and target in ("Datastreams",):
            return statement.where(Datastream.thing_id == parent_id)
        if parent_set in ("Things", "Locations") and target in ("Locations", "Things"):
            return statement.where(Thing.id == parent_id)
        if parent_set == "Sensors":
            return statement.where(Datastream.sensor_id == parent_id)
        if parent_set == "ObservedProperties":
            return statement.where(Datastream.observed_property_id == parent_id)
        link = {"Things": Datastream.thing_id, "Sensors": Datastream.sensor_id,
                "ObservedProperties": Datastream.observed_property_id}[target]
        model = _MODELS[target]
        return statement.where(model.id == select(link).where(Datastream.id == parent_id).scalar_subquery())

    def _expand(self, entity_set: str, document: dict[str, Any], expand: tuple[str, ...]) -> dict[str, Any]:
        for nav in expand:
            if nav not in NAVIGATION[entity_set]:
                raise BadRequest(f"{entity_set} has no navigation property '{nav}' to expand")
            inner = Resource(NAVIGATION[entity_set][nav], parent=(entity_set, document["@iot.id"]),
                             single_navigation=not nav.endswith("s"))
            try:
                result = self.read(inner, Query(top=DEFAULT_TOP), f"{document['@iot.selfLink']}/{nav}")
            except NotFound:
                continue
            if inner.single_navigation:
                document[nav] = result
            else:
                document[nav] = result["value"]
                if "@iot.nextLink" in result:
                    document[f"{nav}@iot.nextLink"] = result["@iot.nextLink"]
        return document

    def _collection(self, values: list[dict[str, Any]], total: int | None, query: Query, request_url: str,
                    *, more: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if total is not None:
            body["@iot.count"] = total
        if more:
            separator = "&" if "?" in request_url else "?"
            cleaned = re.sub(r"([?&])\$skip=\d+&?", r"\1", request_url).rstrip("&?")
            separator = "&" if "?" in cleaned else "?"
            body["@iot.nextLink"] = f"{cleaned}{separator}$skip={query.skip + query.top}"
            if "$top=" not in cleaned:
                body["@iot.nextLink"] += f"&$top={query.top}"
        body["value"] = values
        return body

    def _read_observations(self, resource: Resource, query: Query, request_url: str) -> dict[str, Any]:
        datastream_id: int | None = None
        if resource.parent is not None:
            parent_set, parent_id = resource.parent
            if parent_set != "Datastreams" or not isinstance(parent_id, int):
                raise NotFound("observations are reached from a Datastream")
            if self.session.get(Datastream, parent_id) is None:
                raise NotFound(f"no Datastreams entity with id {parent_id}")
            datastream_id = parent_id
        wanted = ObservationFilter(datastream_id=datastream_id)
        if resource.entity_id is not None:
            match = re.fullmatch(r"(\d+)_(-?\d+)", str(resource.entity_id))
            if match is None:
                raise NotFound("observation ids look like '<datastream id>_<microseconds>'")
            moment = datetime.fromtimestamp(int(match.group(2)) / 1_000_000, UTC)
            rows = self.store.query(ObservationFilter(datastream_id=int(match.group(1)), time_eq=moment), limit=1)
            if not rows:
                raise NotFound("no Observations entity with that id")
            ds, t, v = rows[0]
            document = self._observation(ds, t, v)
            if "Datastream" in query.expand:
                document["Datastream"] = self.read(Resource("Datastreams", ds), Query(), request_url)
            return document
        for clause in query.filters:
            if clause.path == "phenomenonTime" and isinstance(clause.value, datetime):
                wanted = wanted.narrowed_time(clause.op, clause.value)
            elif clause.path == "result" and isinstance(clause.value, int | float) and not isinstance(clause.value, bool):
                wanted = wanted.narrowed_result(clause.op, float(clause.value))
            elif clause.path in ("Datastream/id", "Datastream/@iot.id") and isinstance(clause.value, int) \
                    and clause.op == "eq":
                wanted = ObservationFilter(**{**wanted.__dict__, "datastream_id": clause.value})
            else:
                raise BadRequest(f"cannot filter Observations by '{clause.path} {clause.op}' with that literal; "
                                 "use phenomenonTime (a date-time), result (a number) or Datastream/id eq <id>")
        descending = True
        if query.orderby:
            if query.orderby[0] not in ("phenomenonTime", "resultTime", "id"):
                raise BadRequest("Observations are ordered by phenomenonTime")
            descending = query.orderby[1]
        elif resource.parent is None:
            descending = True
        rows = self.store.query(wanted, limit=query.top + 1, offset=query.skip, descending=descending)
        total = self.store.count_matching(wanted) if query.count else None
        values = [self._observation(ds, t, v) for ds, t, v in rows[:query.top]]
        if "Datastream" in query.expand:
            for value, (ds, _, _) in zip(values, rows, strict=False):
                value["Datastream"] = self.read(Resource("Datastreams", ds), Query(), request_url)
        return self._collection(values, total, query, request_url, more=len(rows) > query.top)


def service_root(base: str) -> dict[str, Any]:
    """The service root document (§9.2.1) with the conformance classes this server implements."""
    base = base.rstrip("/")
    return {
        "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_SETS],
        "serverSettings": {"conformance": [
            "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
            "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
            "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
        ]},
    }
