"""Definitions (deploy, version), instances (start, persist, resume) and DMN decisions.

An instance's whole engine state is serialised into its row after every step, so nothing lives
only in memory: any process (or a restarted one) restores the instance from the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any, cast

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from sqlalchemy import Select, Table, func, inspect, select, update
from sqlalchemy.orm import Session, defer

from xingcheng.core.appended import append_row
from xingcheng.core.audit import service as audit
from xingcheng.core.auth import SYSTEM, Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Invalid, NotFound
from xingcheng.core.events import Event, event_topic
from xingcheng.core.outbox import publish_after_commit
from xingcheng.core.pagination import paginate
from xingcheng.core.refcache import ReferenceCache
from xingcheng.core.schemas import PageParams
from xingcheng.workflow import engine, tasks
from xingcheng.workflow.models import WorkflowDefinition, WorkflowEvent, WorkflowInstance, WorkflowTask
from xingcheng.workflow.schemas import DecisionResult, MatchedRule

# Variables every shipped process may read; absent ones are None rather than a NameError in a script.
WELL_KNOWN_VARIABLES = (
    "id_number", "credit_code", "item_code", "item_name", "applicant_account", "applicant_name", "department",
    "division_code", "approved", "reason", "application_number", "holder_id", "holder_name", "result_licence_type",
    "result_licence_name",
)
# Per process: the variables its scripts read beyond the well-known ones (branch verdicts, form fields).
ENTERPRISE_BRANCHES = ("market_registration", "seal_filing", "tax_registration", "employer_social_insurance",
                       "employer_housing_fund")
PROCESS_VARIABLES: dict[str, tuple[str, ...]] = {
    "enterprise_start": (*(f"{b}_approved" for b in ENTERPRISE_BRANCHES), "enterprise_name", "address",
                         "registered_capital_yuan", "industry_code", "business_scope", "employees", "seal_count"),
}
DEFAULT_SLA_HOURS = 24


def invalid(error: engine.DefinitionError, *, where: str = "body") -> Invalid:
    items = [{"in": where, "field": p.get("field", "content"), "pointer": f"/{p.get('field', 'content')}",
              "message": p["message"], "type": "definition"} for p in error.problems]
    return Invalid(f"{len(items)} problem(s): " + "; ".join(i["message"] for i in items[:10]), errors=items)


# ---- definitions -------------------------------------------------------------------------------

def _newest(key: str, kind: str) -> Select[WorkflowDefinition]:
    return (select(WorkflowDefinition).where(WorkflowDefinition.key == key, WorkflowDefinition.kind == kind)
            .order_by(WorkflowDefinition.version.desc()).limit(1))


def latest_definition(session: Session, *, key: str, kind: str) -> WorkflowDefinition | None:
    # The file itself loads only when read: starting an instance takes the parsed spec from the cache.
    return session.scalar(_newest(key, kind).options(defer(WorkflowDefinition.content)))


def _latest_decision_sources(session: Session) -> list[str]:
    latest = select(WorkflowDefinition.key, func.max(WorkflowDefinition.version).label("v")).where(
        WorkflowDefinition.kind == "dmn").group_by(WorkflowDefinition.key).subquery()
    return list(session.scalars(select(WorkflowDefinition.content).join(
        latest, (WorkflowDefinition.key == latest.c.key) & (WorkflowDefinition.version == latest.c.v)
    ).order_by(WorkflowDefinition.key)))


def deploy(session: Session, *, content: str, actor: Principal) -> WorkflowDefinition:
    """Validate and store a BPMN/DMN file as the next version of its key (same content: no new version)."""
    try:
        kind = engine.definition_kind(content)
        if kind == "dmn":
            decision = engine.parse_decision(content)
            key, name = decision.key, decision.name
        else:
            process = engine.parse_process(content, decisions=_latest_decision_sources(session))
            key, name = process.key, process.name
    except engine.DefinitionError as exc:
        raise invalid(exc) from None
    if len(key) > 64:
        raise Invalid("the process/decision id is longer than 64 characters")
    current = latest_definition(session, key=key, kind=kind)
    digest = engine.sha256(content)
    if current is not None and current.sha256 == digest:
        return current
    definition = WorkflowDefinition(key=key, version=(current.version + 1) if current else 1, kind=kind,
                                    name=name[:200], content=content, sha256=digest, deployed_by=actor.name[:64])
    session.add(definition)
    session.flush()
    audit.record(session, actor=actor, action="workflow.deploy", subject=f"workflow_definition:{key}",
                 details={"version": definition.version, "kind": kind}, content_hash=bytes.fromhex(digest))
    return definition


def deploy_shipped(session: Session, *, actor: Principal = SYSTEM) -> list[WorkflowDefinition]:
    """Deploy the processes shipped in ``workflow/processes`` (decisions first: processes may call them)."""
    folder = resources.files("xingcheng.workflow") / "processes"
    files = sorted((f for f in folder.iterdir() if f.name.endswith((".dmn", ".bpmn"))),
                   key=lambda f: (not f.name.endswith(".dmn"), f.name))
    return [deploy(session, content=f.read_text(encoding="utf-8"), actor=actor) for f in files]


def list_definitions(
    session: Session, *, page: PageParams, kind: str | None = None, key: str | None = None
) -> tuple[list[WorkflowDefinition], int]:
    statement: Select[WorkflowDefinition] = select(WorkflowDefinition).order_by(WorkflowDefinition.key,
                                                                                WorkflowDefinition.version)
    if kind:
        statement = statement.where(WorkflowDefinition.kind == kind)
    if key:
        statement = statement.where(WorkflowDefinition.key == key)
    return paginate(session, statement, page)


def _content(session: Session, definition: LatestVersion) -> str:
    """The BPMN/DMN file of a version: read only to parse it, once per process and version."""
    return session.scalar(select(WorkflowDefinition.content).where(WorkflowDefinition.id == definition.id)) or ""


def _process_spec(session: Session, definition: LatestVersion) -> engine.ProcessSpec:
    return engine.cached(f"process:{definition.id}:{definition.sha256}", lambda: engine.parse_process(
        _content(session, definition), decisions=_latest_decision_sources(session)))


@dataclass(frozen=True)
class LatestVersion:
    id: int
    key: str
    version: int
    sha256: str


# Every instance start asks for its process's newest version; deployments are rare.
LATEST_VERSIONS: ReferenceCache[tuple[str, str], LatestVersion | None] = ReferenceCache(
    "workflow versions", watch=(WorkflowDefinition,))


def _read_latest_version(session: Session, key: str, kind: str) -> LatestVersion | None:
    with session.no_autoflush:
        row = session.execute(_newest(key, kind).with_only_columns(
            WorkflowDefinition.id, WorkflowDefinition.key, WorkflowDefinition.version, WorkflowDefinition.sha256)).first()
    return None if row is None else LatestVersion(*row)


def latest_version(session: Session, *, key: str, kind: str) -> LatestVersion | None:
    """The newest version's identity only: one indexed row (cached per process), and without flushing the
    caller's pending rows (starting an instance flushes once, with the instance)."""
    return LATEST_VERSIONS.get(session, (key, kind), lambda: _read_latest_version(session, key, kind))


# ---- instances ---------------------------------------------------------------------------------

_EVENTS = cast(Table, WorkflowEvent.__table__)

def _script_engine() -> Any:
    return engine.cached("script-engine", lambda: engine.script_engine(tasks.SERVICE_TASKS))


def record_event(session: Session, *, instance_id: int, action: str, actor: Principal | str,
                 task_spec: str | None = None, details: dict[str, Any] | None = None) -> None:
    """A line of the instance's timeline, written with the unit of work's other append-only rows."""
    name = actor if isinstance(actor, str) else actor.name
    append_row(session, _EVENTS, {"instance_id": instance_id, "at": utcnow(), "action": action,
                                  "task_spec": task_spec, "actor": name[:64], "details": details or {}})


def _event(session: Session, instance: WorkflowInstance, action: str, actor: Principal | str,
           task_spec: str | None = None, **details: Any) -> None:
    record_event(session, instance_id=instance.id, action=action, actor=actor, task_spec=task_spec, details=details)
    audit.record(session, actor=actor, action=f"workflow.{action}", subject=f"workflow_instance:{instance.id}",
                 details={"process": instance.process_key, "task": task_spec, **details})


def _json_safe(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, str | int | float | bool | dict | list) or v is None}


def _sync(session: Session, instance: WorkflowInstance, workflow: BpmnWorkflow, actor: Principal,
          *, started: bool = False) -> None:
    """Mirror the engine's ready user tasks into department inboxes and close the instance when done
    (``started``: the instance was created just now and has no inbox rows yet)."""
    ready = engine.ready_user_tasks(workflow)
    ready_ids = {str(t.id) for t in ready}
    known = {} if started else {t.engine_task_id: t for t in instance.tasks if t.status in ("open", "claimed", "waiting")}
    for stale_id, stale in known.items():
        if stale_id not in ready_ids:  # e.g. cancelled by a boundary event
            stale.status = "cancelled"
    now = utcnow()
    for task in ready:
        if str(task.id) in known:
            continue
        department = engine.task_property(task.task_spec, "department", task.data)
        if not department:
            raise Invalid(f"user task {task.task_spec.name} has no department (set the 'department' variable)")
        sla = engine.task_property(task.task_spec, "sla_hours", task.data, str(DEFAULT_SLA_HOURS)) or ""
        hours = float(sla) if sla.replace(".", "", 1).isdigit() else DEFAULT_SLA_HOURS
        row = WorkflowTask(instance_id=instance.id, engine_task_id=str(task.id), task_spec=task.task_spec.name,
                           name=(task.task_spec.bpmn_name or task.task_spec.name)[:200], department_code=department[:32],
                           role=engine.task_property(task.task_spec, "role", task.data, "department_staff") or "",
                           due_at=now + timedelta(hours=hours))
        instance.tasks.append(row)
        tasks.notify_department(department, f"新待办：{row.name}", f"办件 {instance.business_key or instance.id} 待办理")
        publish_after_commit(session, event_topic("workflow", "task"), Event(
            type="xingcheng.workflow.task.created", source="/workflow", subject=f"workflow_instance:{instance.id}",
            data={"task": row.task_spec, "department": department}))
    instance.state = engine.serialize(workflow)
    instance.variables = _json_safe(workflow.data if workflow.is_completed() else
                                    (ready[0].data if ready else workflow.data))
    instance.current_tasks = sorted(t.task_spec.name for t in ready)
    if workflow.is_completed() and instance.status != "completed":
        instance.status, instance.completed_at = "completed", now
        _event(session, instance, "complete", actor, outcome=workflow.data.get("outcome"))
        publish_after_commit(session, event_topic("workflow", "instance"), Event(
            type="xingcheng.workflow.instance.completed", source="/workflow", subject=f"workflow_instance:{instance.id}",
            data={"process": instance.process_key, "business_key": instance.business_key}))


def start_instance(
    session: Session, *, process_key: str, actor: Principal, variables: Mapping[str, Any] | None = None,
    business_key: str | None = None,
) -> WorkflowInstance:
    definition = latest_version(session, key=process_key, kind="bpmn")
    if definition is None:
        raise NotFound(f"no deployed process '{process_key}'")
    process = _process_spec(session, definition)
    instance = WorkflowInstance(definition_id=definition.id, process_key=definition.key, business_key=business_key,
                                state="", started_by=actor.name[:64], tasks=[])  # known empty: no read for them
    session.add(instance)
    session.flush()
    known = (*WELL_KNOWN_VARIABLES, *PROCESS_VARIABLES.get(definition.key, ()))
    data = {name: None for name in known} | dict(variables or {})
    with tasks.bound(tasks.TaskContext(session, actor, f"workflow_instance:{instance.id}")):
        try:
            workflow = engine.start(process, data=data, engine=_script_engine())
        except WorkflowException as exc:
            raise Invalid(f"the process stopped at a script task: {exc}") from None
        _event(session, instance, "start", actor, version=definition.version, business_key=business_key)
        _sync(session, instance, workflow, actor, started=True)
    return instance


def get_instance_or_raise(session: Session, *, instance_id: int) -> WorkflowInstance:
    instance = session.get(WorkflowInstance, instance_id)
    if instance is None:
        raise NotFound(f"no workflow instance {instance_id}")
    return instance


def list_instances(
    session: Session, *, page: PageParams, status: str | None = None, process_key: str | None = None
) -> tuple[list[WorkflowInstance], int]:
    statement: Select[WorkflowInstance] = select(WorkflowInstance).order_by(WorkflowInstance.id.desc())
    if status:
        statement = statement.where(WorkflowInstance.status == status)
    if process_key:
        statement = statement.where(WorkflowInstance.process_key == process_key)
    return paginate(session, statement, page)


def timeline(session: Session, *, instance_id: int) -> list[WorkflowEvent]:
    return list(session.scalars(select(WorkflowEvent).where(WorkflowEvent.instance_id == instance_id)
                                .order_by(WorkflowEvent.id)))


def instance_tasks(session: Session, *, instance_id: int) -> list[WorkflowTask]:
    # An instance this unit of work just started or advanced holds its tasks already: no second read.
    instance = session.identity_map.get(session.identity_key(WorkflowInstance, instance_id))
    if isinstance(instance, WorkflowInstance) and "tasks" not in inspect(instance).unloaded:
        if any(task.id is None for task in instance.tasks):
            session.flush()  # the new ones get their ids
        return list(instance.tasks)
    return list(session.scalars(select(WorkflowTask).where(WorkflowTask.instance_id == instance_id)
                                .order_by(WorkflowTask.id)))


def advance(session: Session, *, task: WorkflowTask, actor: Principal, variables: Mapping[str, Any]) -> WorkflowInstance:
    """Complete the engine task behind an inbox row, persist, and mirror what became ready."""
    instance = get_instance_or_raise(session, instance_id=task.instance_id)
    if instance.status != "running":
        raise Conflict(f"the instance is {instance.status}")
    seen = instance.version
    with tasks.bound(tasks.TaskContext(session, actor, f"workflow_instance:{instance.id}")):
        workflow = engine.restore(instance.state, engine=_script_engine())
        try:
            engine.complete_task(workflow, task_id=task.engine_task_id, data=variables)
        except WorkflowException as exc:
            raise Invalid(f"the process stopped at a script task: {exc}") from None
        _event(session, instance, "task.complete", actor, task_spec=task.task_spec, variables=_json_safe(variables))
        _sync(session, instance, workflow, actor)
    # Optimistic lock on the instance: two branches completed at once → the later one retries (409).
    bumped = session.execute(update(WorkflowInstance).where(WorkflowInstance.id == instance.id,
                                                            WorkflowInstance.version == seen)
                             .values(version=seen + 1).execution_options(synchronize_session=False))
    if getattr(bumped, "rowcount", 1) != 1:
        raise Conflict("the instance changed while this task was completed; reload and try again")
    instance.version = seen + 1
    return instance


def cancel_instance(session: Session, *, instance_id: int, actor: Principal, reason: str) -> WorkflowInstance:
    """Stop a running instance (the applicant withdrew): its open tasks leave the inboxes."""
    instance = get_instance_or_raise(session, instance_id=instance_id)
    if instance.status != "running":
        raise Conflict(f"the instance is already {instance.status}")
    bumped = session.execute(update(WorkflowInstance).where(WorkflowInstance.id == instance.id,
                                                            WorkflowInstance.version == instance.version)
                             .values(version=instance.version + 1, status="cancelled", completed_at=utcnow())
                             .execution_options(synchronize_session=False))
    if getattr(bumped, "rowcount", 1) != 1:
        raise Conflict("the instance changed meanwhile; reload and try again")
    instance.version, instance.status, instance.completed_at = instance.version + 1, "cancelled", utcnow()
    for task in session.scalars(select(WorkflowTask).where(
            WorkflowTask.instance_id == instance.id, WorkflowTask.status.in_(("open", "claimed", "waiting")))):
        task.status, task.version = "cancelled", task.version + 1
    _event(session, instance, "cancel", actor, reason=reason[:500])
    session.flush()
    return instance


# ---- decisions ---------------------------------------------------------------------------------

def decision_spec(session: Session, *, key: str) -> tuple[LatestVersion, engine.DecisionSpec]:
    definition = latest_version(session, key=key, kind="dmn")
    if definition is None:
        raise NotFound(f"no deployed decision '{key}'")
    return definition, engine.cached(f"decision:{definition.id}:{definition.sha256}",
                                     lambda: engine.parse_decision(_content(session, definition)))


def evaluate_decision(
    session: Session, *, key: str, inputs: Mapping[str, Any], actor: Principal
) -> DecisionResult:
    """Decide with the latest version of a table; the first matched rule is the explanation."""
    definition, spec = decision_spec(session, key=key)
    missing = [name for name in engine.input_names(spec) if name not in inputs]
    if missing:
        raise Invalid(f"inputs missing: {', '.join(missing)}", errors=[
            {"in": "body", "field": f"inputs.{m}", "pointer": f"/inputs/{m}", "message": "required by the table",
             "type": "missing"} for m in missing])
    try:
        outcome = engine.decide(spec, inputs)
    except engine.DefinitionError as exc:
        raise invalid(exc) from None
    rules = [MatchedRule(**r) for r in outcome.matched_rules]
    result = DecisionResult(key=definition.key, version=definition.version, result=outcome.result,
                            matched_rule=rules[0] if rules else None, matched_rules=rules,
                            rules_checked=outcome.rules_checked)
    audit.record(session, actor=actor, action="workflow.decide", subject=f"workflow_definition:{key}",
                 result=str(outcome.result.get("decision", "no-match"))[:32],
                 details={"version": definition.version, "rule": rules[0].id if rules else None})
    return result
