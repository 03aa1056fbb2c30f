"""Workflow engine latency: start + run to the first user task, and DMN decision p99.

Each figure is measured twice: with the parsed spec cached (what the platform does) and against the
baseline of re-parsing the BPMN/DMN file on every call. A third row goes through the service on a
fresh SQLite file (instance row, inbox rows, audit entries, commit).

    .venv/bin/python bench/workflow.py [--n 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from xingcheng.core.auth import SYSTEM
from xingcheng.core.db import Database, create_db_engine
from xingcheng.core.migrate import upgrade
from xingcheng.workflow import engine, service

PROCESSES = Path(engine.__file__).parent / "processes"


def timed(n: int, call: Callable[[int], object]) -> dict[str, float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"n": n, "mean_ms": round(statistics.fmean(samples), 3), "p50_ms": round(samples[n // 2], 3),
            "p99_ms": round(samples[min(n - 1, int(n * 0.99))], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = args.n
    noop = engine.script_engine({"identity_check": lambda _i: {}, "calculate_fee": lambda _c: 0,
                                 "notify_applicant": lambda *_a: True})
    results: dict[str, dict[str, float]] = {}
    for key in ("generic_service_item", "enterprise_start"):
        source = (PROCESSES / f"{key}.bpmn").read_text()
        data = {"id_number": None, "item_code": "X", "department": "xzsp", "applicant_account": None}

        def start_cached(_i: int, source: str = source, data: dict[str, object] = data) -> object:
            workflow = engine.start(engine.parse_process(source), data=data, engine=noop)
            return engine.serialize(workflow)

        def start_reparse(_i: int, source: str = source, data: dict[str, object] = data) -> object:
            engine.clear_cache()
            workflow = engine.start(engine.parse_process(source), data=data, engine=noop)
            return engine.serialize(workflow)

        results[f"{key}: start→first user task (+serialise), spec cached"] = timed(n, start_cached)
        results[f"{key}: start→first user task (+serialise), re-parse per call"] = timed(max(n // 10, 50), start_reparse)

    ca = (PROCESSES / "cs_ca_auto.dmn").read_text()
    inputs = [{"age": 40 + i % 40, "division_code": "430102", "residence_permit_status": "valid"} for i in range(n)]

    def decide_cached(i: int) -> object:
        return engine.decide(engine.parse_decision(ca), inputs[i])

    def decide_reparse(i: int) -> object:
        engine.clear_cache()
        return engine.decide(engine.parse_decision(ca), inputs[i])

    results["cs_ca_auto: DMN decision, spec cached"] = timed(n, decide_cached)
    results["cs_ca_auto: DMN decision, re-parse per call"] = timed(n, decide_reparse)

    with tempfile.TemporaryDirectory() as folder:
        database = Database(create_db_engine(f"sqlite:///{folder}/bench.db"))
        upgrade(database.engine)
        with database.session_scope() as session:
            service.deploy_shipped(session)

        def start_service(i: int) -> object:
            with database.session_scope() as session:
                return service.start_instance(session, process_key="generic_service_item", actor=SYSTEM,
                                              variables={"department": "xzsp"}, business_key=f"B{i}").id

        def decide_service(i: int) -> object:
            with database.session_scope() as session:
                return service.evaluate_decision(session, key="cs_ca_auto", inputs=inputs[i], actor=SYSTEM)

        runs = max(n // 4, 50)
        results["service on SQLite: start generic instance + inbox + audit + commit"] = timed(runs, start_service)
        results["service on SQLite: evaluate cs_ca_auto + audit + commit"] = timed(runs, decide_service)
        database.engine.dispose()

    if args.json:
        print(json.dumps(results, ensure_ascii=False))
        return
    width = max(len(k) for k in results)
    print(f"{'measure':{width}}  {'n':>5} {'mean ms':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for name, row in results.items():
        print(f"{name:{width}}  {row['n']:>5.0f} {row['mean_ms']:>9.3f} {row['p50_ms']:>9.3f} {row['p99_ms']:>9.3f}")


if __name__ == "__main__":
    main()
