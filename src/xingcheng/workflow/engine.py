"""The SpiffWorkflow wrapper: parse and validate BPMN/DMN once per version, run, serialise, decide.

Everything SpiffWorkflow-specific lives here so the service speaks in plain values. Parsed specs
are cached by the content's SHA-256: a version is parsed once per process, and a restarted
process parses again on first use (specs are code, the instance state is data in the database).
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType, SimpleNamespace
from typing import Any, TypeVar, cast

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.specs.model import DecisionTable
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

# Hit policies the engine really implements (anything but COLLECT returns the first match).
SUPPORTED_HIT_POLICIES = frozenset({"UNIQUE", "FIRST", "COLLECT"})

SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


class DefinitionError(ValueError):
    """A BPMN or DMN file that cannot be deployed; ``problems`` lists each one."""

    def __init__(self, problems: Sequence[Mapping[str, Any]]) -> None:
        super().__init__("; ".join(str(p["message"]) for p in problems))
        self.problems = [dict(p) for p in problems]


@dataclass(frozen=True)
class ProcessSpec:
    key: str
    name: str
    spec: Any  # BpmnProcessSpec
    subprocess_specs: dict[str, Any]


@dataclass(frozen=True)
class DecisionSpec:
    key: str
    name: str
    table: DecisionTable


def sha256(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _xml(content: str) -> Any:
    try:
        return etree.fromstring(content.encode())
    except etree.XMLSyntaxError as exc:
        raise DefinitionError([{"field": "content", "message": f"not well-formed XML: {exc}"}]) from None


# Scripts and rule cells are Python run by the engine. Deploying needs workflow:admin, but a
# definition still must not reach the interpreter's internals: no imports, no dunder/private
# attributes, and at run time only these builtins.
SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in (
    "abs", "all", "any", "bool", "dict", "enumerate", "filter", "float", "int", "isinstance", "len", "list",
    "map", "max", "min", "range", "round", "set", "sorted", "str", "sum", "tuple", "zip",
)}


def _unsafe(tree: ast.AST) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            return "imports are not allowed"
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            return f"private attribute '{node.attr}' is not allowed"
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            return f"name '{node.id}' is not allowed"
    return None


def _check_python(text: str, *, mode: str = "eval") -> str | None:
    try:
        tree = ast.parse(text, "<definition>", mode)
    except SyntaxError as exc:
        return exc.msg
    return _unsafe(tree)


def _check_scripts(root: Any) -> list[dict[str, Any]]:
    """Every script task and condition of a BPMN document, compiled and checked."""
    problems: list[dict[str, Any]] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local in ("script", "conditionExpression") and element.text and element.text.strip():
            where = element.getparent().get("id")
            error = _check_python(element.text.strip(), mode="exec" if local == "script" else "eval")
            if error:
                problems.append({"field": f"{local}:{where}", "message": f"{local} of {where}: {error}"})
    return problems


def _input_cell_error(cell: str) -> str | None:
    """A rule cell is valid the way SpiffWorkflow will evaluate it: ``?`` form, a value, or an operator tail."""
    text = cell.replace("?", "dmninputexpr") if "?" in cell else cell
    try:
        tree = ast.parse(text, "<cell>", "eval")
    except SyntaxError:
        if "?" in cell:
            return "not a Python expression"
        return _check_python(f"v {cell}")  # an operator tail such as ">= 60"
    return _unsafe(tree)


def validate_decision_table(key: str, table: DecisionTable) -> list[dict[str, Any]]:
    """Every problem of a parsed table, one entry per bad cell (the engine itself checks none of this)."""
    problems: list[dict[str, Any]] = []
    if table.hit_policy not in SUPPORTED_HIT_POLICIES:
        problems.append({"field": "hitPolicy", "message": f"{key}: hit policy {table.hit_policy} is not supported "
                         f"(use {', '.join(sorted(SUPPORTED_HIT_POLICIES))})"})
    for column in table.inputs:
        if not column.expression or (error := _check_python(column.expression)):
            problems.append({"field": f"input:{column.id}",
                             "message": f"{key}: input {column.label or column.id} expression is not Python: "
                                        f"{column.expression!r}"})
    for rule in table.rules:
        for entry in rule.inputEntries:
            for cell in entry.lhs:
                if cell is not None and (error := _input_cell_error(cell)):
                    problems.append({"field": f"rule {rule.row_number} / {entry.input.label or entry.input.id}",
                                     "message": f"{key}: rule {rule.row_number} ({rule.id}) input "
                                                f"'{entry.input.label or entry.input.id}' cell {cell!r}: {error}"})
        for out in rule.outputEntries:
            if out.text and (error := _check_python(out.text)):
                problems.append({"field": f"rule {rule.row_number} / {out.output.name}",
                                 "message": f"{key}: rule {rule.row_number} ({rule.id}) output "
                                            f"'{out.output.name}' cell {out.text!r}: {error}"})
    return problems


_LOCK = threading.Lock()
_PROCESS_CACHE: dict[str, ProcessSpec] = {}
_DECISION_CACHE: dict[str, DecisionSpec] = {}
_RUNTIME_CACHE: dict[str, Any] = {}
T = TypeVar("T")


def cached(key: str, build: Callable[[], T]) -> T:
    """``build()`` once per key for this process (specs per definition version, the script engine)."""
    if key in _RUNTIME_CACHE:
        return cast(T, _RUNTIME_CACHE[key])
    value = build()
    with _LOCK:
        _RUNTIME_CACHE[key] = value
    return value


def clear_cache() -> None:
    """Forget every parsed spec and engine (what a process restart does)."""
    with _LOCK:
        _PROCESS_CACHE.clear()
        _DECISION_CACHE.clear()
        _RUNTIME_CACHE.clear()


def parse_decision(content: str) -> DecisionSpec:
    """Parse and validate a DMN file (one decision, one table); cached by content hash."""
    digest = sha256(content)
    if (cached := _DECISION_CACHE.get(digest)) is not None:
        return cached
    parser = SpiffBpmnParser()
    try:
        parser.add_dmn_xml(_xml(content))
        dmn = next(iter(parser.dmn_parsers.values()))
        dmn.parse()
    except DefinitionError:
        raise
    except (ValidationException, StopIteration, KeyError, IndexError, AttributeError, TypeError) as exc:
        raise DefinitionError([{"field": "content", "message": f"DMN does not parse: {exc or 'no decision'}"}]) from None
    decision = dmn.decision
    if not decision.decisionTables:
        raise DefinitionError([{"field": "content", "message": f"decision {decision.id} has no decision table"}])
    table = decision.decisionTables[0]
    if problems := validate_decision_table(decision.id, table):
        raise DefinitionError(problems)
    spec = DecisionSpec(key=decision.id, name=decision.name or decision.id, table=table)
    with _LOCK:
        _DECISION_CACHE[digest] = spec
    return spec


def parse_process(content: str, *, decisions: Sequence[str] = ()) -> ProcessSpec:
    """Parse and schema-validate a BPMN file with one executable process; ``decisions`` are DMN sources
    its business-rule tasks may call. Cached by the hash of all sources."""
    digest = sha256(content + "".join(decisions))
    if (cached := _PROCESS_CACHE.get(digest)) is not None:
        return cached
    parser = SpiffBpmnParser(validator=BpmnValidator())
    document = _xml(content)
    if problems := _check_scripts(document):
        raise DefinitionError(problems)
    try:
        for source in decisions:
            parser.add_dmn_xml(_xml(source))
        parser.add_bpmn_xml(document)
        executable = parser.get_process_ids()
        if len(executable) != 1:
            raise DefinitionError([{"field": "content", "message":
                                    f"a definition holds exactly one executable process, found {len(executable)}"}])
        key = executable[0]
        spec = parser.get_spec(key)
        subprocesses = parser.get_subprocess_specs(key)
    except DefinitionError:
        raise
    except ValidationException as exc:
        raise DefinitionError([{"field": "content", "message": f"BPMN does not validate: {exc}"}]) from None
    except (KeyError, IndexError, AttributeError, TypeError, ValueError) as exc:
        raise DefinitionError([{"field": "content", "message": f"BPMN does not parse: {exc}"}]) from None
    process = ProcessSpec(key=key, name=spec.description or key, spec=spec, subprocess_specs=subprocesses)
    with _LOCK:
        _PROCESS_CACHE[digest] = process
    return process


def definition_kind(content: str) -> str:
    """``bpmn`` or ``dmn`` from the root element's namespace."""
    root = _xml(content)
    namespace = etree.QName(root).namespace or ""
    if "BPMN" in namespace:
        return "bpmn"
    if "DMN" in namespace:
        return "dmn"
    raise DefinitionError([{"field": "content", "message": f"root element is neither BPMN nor DMN ({namespace!r})"}])


@lru_cache(maxsize=4096)
def _compiled(source: str, mode: str) -> CodeType:
    # "<string>": the file name SpiffWorkflow looks for in a traceback to report the failing script line.
    return compile(source, "<string>", mode)


class CompiledScriptEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """SpiffWorkflow's task-data environment, compiling each script and gateway condition once per process
    instead of on every run (a script task's text was compiled again for every instance)."""

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
                 ) -> Any:
        return super().evaluate(_compiled(expression, "eval"), context, external_context)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
                ) -> bool:
        return bool(super().execute(_compiled(script, "exec"), context, external_context))


def script_engine(functions: Mapping[str, Callable[..., Any]]) -> PythonScriptEngine:
    """The engine scripts run in: task data as locals, the service-task registry as globals."""
    return PythonScriptEngine(environment=CompiledScriptEnvironment({"__builtins__": SAFE_BUILTINS, **functions}))


def start(process: ProcessSpec, *, data: Mapping[str, Any], engine: PythonScriptEngine) -> BpmnWorkflow:
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=engine)
    start_task = workflow.get_next_task(state=TaskState.READY)
    if start_task is not None:
        start_task.data.update(data)
    workflow.do_engine_steps()
    return workflow


def serialize(workflow: BpmnWorkflow) -> str:
    return str(SERIALIZER.serialize_json(workflow))


def restore(state: str, *, engine: PythonScriptEngine) -> BpmnWorkflow:
    workflow: BpmnWorkflow = SERIALIZER.deserialize_json(state)
    workflow.script_engine = engine
    return workflow


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Any]:
    return list(workflow.get_tasks(state=TaskState.READY, manual=True))


def complete_task(workflow: BpmnWorkflow, *, task_id: str, data: Mapping[str, Any]) -> None:
    from uuid import UUID

    task = workflow.get_task_from_id(UUID(task_id))
    task.data.update(data)
    task.run()
    workflow.do_engine_steps()


def task_property(task_spec: Any, name: str, data: Mapping[str, Any], default: str | None = None) -> str | None:
    """An extension property of a user task; ``=var`` reads the instance variable ``var``."""
    value = (getattr(task_spec, "extensions", None) or {}).get("properties", {}).get(name, default)
    if isinstance(value, str) and value.startswith("="):
        resolved = data.get(value[1:])
        return None if resolved is None else str(resolved)
    return value if value is None else str(value)


_DECIDE_ENGINE = PythonScriptEngine(environment=TaskDataEnvironment({"__builtins__": SAFE_BUILTINS}))


@dataclass(frozen=True)
class DecisionOutcome:
    result: dict[str, Any]
    matched_rules: list[dict[str, Any]]
    rules_checked: int


def decide(decision: DecisionSpec, inputs: Mapping[str, Any]) -> DecisionOutcome:
    """Evaluate a table with SpiffWorkflow's own DMN engine; say which rules matched (first hit is the reason)."""
    # DMNEngine wants a task: this stands in with what it and its error reporting read.
    workflow = SimpleNamespace(script_engine=_DECIDE_ENGINE, spec=SimpleNamespace(file=decision.key))
    workflow.top_workflow = workflow
    task_spec = SimpleNamespace(name=decision.key, bpmn_name=decision.name, bpmn_id=decision.key)
    shim = SimpleNamespace(data=dict(inputs), workflow=workflow, task_spec=task_spec)
    engine = DMNEngine(decision.table)
    try:
        matched = engine.decide(shim)
        if decision.table.hit_policy == "COLLECT":
            result = engine.result(shim)
        else:
            result = matched[0].output_as_dict(shim) if matched else {}
    except WorkflowException as exc:  # a cell failing on these inputs (wrong type): the caller's input
        notes = "; ".join(getattr(exc, "__notes__", []))
        message = f"{decision.key}: cannot evaluate: {exc} {notes}".strip()
        raise DefinitionError([{"field": "inputs", "message": message}]) from None
    rules = [{"row": r.row_number, "id": r.id, "description": r.description or ""} for r in matched]
    checked = len(decision.table.rules) if decision.table.hit_policy == "COLLECT" else (
        matched[0].row_number if matched else len(decision.table.rules))
    return DecisionOutcome(result=dict(result), matched_rules=rules, rules_checked=checked)


def input_names(decision: DecisionSpec) -> list[str]:
    """Variables the table reads (from its input expressions)."""
    names: list[str] = []
    for column in decision.table.inputs:
        for node in ast.walk(ast.parse(column.expression or "None", mode="eval")):
            if isinstance(node, ast.Name) and node.id not in names:
                names.append(node.id)
    return names
