"""Online applications benchmark: submissions/s and latency through the HTTP API, a profile breakdown, and
the 秒批 decision latency.

    python bench/applications.py [--generic 600] [--enterprise 150] [--concurrency 16] [--postgres URL]
                                 [--baseline OLD/src] [--json]

``--baseline`` compares with an earlier source tree (``git worktree add /tmp/old <commit>`` → ``--baseline
/tmp/old/src``): two servers side by side, each with its own city, take ``--bursts`` alternating bursts of
generic submissions (the order flips every round) and the medians are reported. The box's speed drifts by
tens of percent within minutes, and a server's first requests cost more than later ones, so two runs one
after the other can disagree by more than the change being measured; interleaving cancels both.

1. Builds a small demo city (the modules applications need) in a fresh data directory.
2. Starts the server in a separate process (uvicorn on a free port, its own data dir), logs in as the demo
   citizen and drives it with an httpx async client: ``GET /health`` first (the HTTP baseline of the same
   run), then submissions of a generic item (CS-MZ-0004: nothing to upload, runs the generic BPMN process),
   of the enterprise start (one-form application fanning out to five departments, 4 uploaded materials
   reused) and of 秒批 (CS-CA-AUTO: registry lookup + DMN + e-licence, or manual review).
3. Profiles submissions in-process (cProfile through the ASGI app) and splits the time by where it is
   spent: HTTP (starlette/fastapi/anyio), validation (pydantic, forms, materials), workflow (SpiffWorkflow,
   the engine wrapper), database (SQLAlchemy, drivers), audit (core.audit), other.
4. Times the three 秒批 DMN tables over their labelled boundary sets (p50/p99 per decision).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import os
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

console = Console(width=max(Console().width, 120))
NEEDED = ("core", "registries", "workflow", "services", "applications")
GENERIC_ITEM = "CS-MZ-0004"  # 婚姻登记档案查询: identity from the registry, the form online → no upload
ENTERPRISE_FORM: dict[str, Any] = {
    "contact_phone": "13874800000", "enterprise_name": "长沙星辰压测科技有限公司", "division_code": "430104",
    "address": "长沙市岳麓区麓谷街道岳麓西大道588号", "registered_capital_yuan": 1_000_000, "industry_code": "I65",
    "business_scope": "软件开发；信息技术咨询服务", "employees": 8, "seal_count": 4, "bank_name": "长沙银行岳麓支行",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_empty_postgres(url: str) -> None:
    """Create the benchmark's PostgreSQL database when it is missing; refuse one that already holds tables
    (a second run needs ``dropdb`` first: the bench never drops a database it was pointed at)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    if not target.database:
        raise SystemExit("--postgres: the URL names no database")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}) is None:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
    engine = create_engine(target)
    try:
        with engine.connect() as conn:
            tables = conn.scalar(text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"))
    finally:
        engine.dispose()
    if tables:
        raise SystemExit(f"--postgres: database {target.database} already holds {tables} tables; "
                         f"run `dropdb -h {target.host} {target.database}` first or name another")


def build_city(data_dir: Path, database_url: str | None, source: str | None = None) -> None:
    """Migrate and load the demo city (only the modules applications need) in a child process."""
    data_dir.mkdir(parents=True, exist_ok=True)
    code = f"""
from xingcheng.core.db import Database, create_db_engine
from xingcheng.core.migrate import upgrade
from xingcheng.core.settings import get_settings
from xingcheng.demo.runner import load_demo
from xingcheng.modules import MODULES
engine = create_db_engine(get_settings().resolved_database_url)
upgrade(engine)
load_demo(Database(engine), [m for m in MODULES if m.name in {NEEDED!r}], seed=42, scale="small")
for m in MODULES:
    if m.on_shutdown: m.on_shutdown()
"""
    subprocess.run([sys.executable, "-c", code], env=server_env(data_dir, database_url, source), check=True,
                   stdout=subprocess.DEVNULL)


def server_env(data_dir: Path, database_url: str | None, source: str | None = None) -> dict[str, str]:
    """The server's environment; ``source`` (``--baseline``) puts an earlier source tree first on its path, so
    a change is compared with what came before on the same machine in the same run."""
    env = {**os.environ, "XC_DATA_DIR": str(data_dir), "XC_SECRET_KEY": "bench-secret-key-" + "0" * 32,
           "XC_WORKFLOW__ESCALATION_SECONDS": "0"}
    if source:
        env["PYTHONPATH"] = source
    if database_url:
        env["XC_DATABASE_URL"] = database_url
    return env


class Server:
    def __init__(self, data_dir: Path, database_url: str | None, workers: int = 1, source: str | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = server_env(data_dir, database_url, source)
        if workers > 1:  # the production profile: several processes, so observations live in PostgreSQL too
            env["XC_IOT__STORE"] = "postgres"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "xingcheng.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "120",
             "--workers", str(workers)],
            env=env, stdout=subprocess.DEVNULL,
            stderr=(data_dir / "server.log").open("wb"))
        self.log = data_dir / "server.log"
        self.started = time.monotonic()  # reset when it first answers: its start-up jobs have begun by then

    def wait(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    self.started = time.monotonic()
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise SystemExit(f"server did not start: {self.log.read_text(errors='replace')[-2000:]}")

    def wait_idle(self, timeout: float = 120, quiet: float = 0.05) -> float:
        """Wait until start-up work in the server (the citizen-request classifier's training, which begins
        ``WARM_UP_DELAY_SECONDS`` after start, the audit sequencer's first pass, demo caches) is done — its
        CPU use under ``quiet`` of a core for 2 s — so that work is not charged to a workload. Returns the
        seconds waited."""
        from xingcheng.governance.requests.runtime import WARM_UP_DELAY_SECONDS

        started = time.monotonic()
        training_done_after = self.started + WARM_UP_DELAY_SECONDS + 1
        calm = 0
        previous = cpu_seconds(self.process.pid)
        while time.monotonic() - started < timeout and (calm < 2 or time.monotonic() < training_done_after):
            time.sleep(1)
            now = cpu_seconds(self.process.pid)
            calm = calm + 1 if now - previous < quiet else 0
            previous = now
        return round(time.monotonic() - started, 1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live children (uvicorn workers), from Linux /proc: the
    server's own cost, whatever else loads the box."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    total = 0
    for member in pids:
        try:
            fields = _stat(member)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def run_load(base: str, headers: dict[str, str], bodies: list[dict[str, Any]], concurrency: int,
                   path: str = "/api/v1/applications", method: str = "POST", tag: str = "bench",
                   server_pid: int | None = None) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    queue = list(enumerate(bodies))
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker() -> None:
            while queue:
                index, body = queue.pop()
                started = time.perf_counter()
                try:
                    if method == "POST":
                        response = await client.post(path, json=body, headers={"Idempotency-Key": f"{tag}-{index}"})
                    else:
                        response = await client.get(path)
                except httpx.HTTPError as exc:  # counted, not fatal: the table shows them
                    statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1

        cpu = cpu_seconds(server_pid) if server_pid else 0.0
        wall = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - wall
        cpu = cpu_seconds(server_pid) - cpu if server_pid else 0.0
    ordered = sorted(latencies)
    cpu_ms = 1000 * cpu / max(1, len(latencies))
    return {"server_cpu_ms": round(cpu_ms, 2), "one_core_ceiling_per_s": round(1000 / cpu_ms, 1) if cpu_ms else None,
            "requests": len(latencies), "seconds": round(wall, 2), "per_second": round(len(latencies) / wall, 1),
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 1),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
            "mean_ms": round(1000 * statistics.fmean(ordered), 1), "statuses": statuses}


def login(base: str, username: str, password: str) -> dict[str, str]:
    """Log in, retrying while the freshly started server's start-up jobs hold the SQLite write lock."""
    for _ in range(10):
        response = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": password},
                              timeout=60)
        if response.status_code == 200:
            return {"Authorization": f"Bearer {response.json()['access_token']}"}
        time.sleep(3)
    response.raise_for_status()
    raise SystemExit(f"login failed: {response.status_code}")


def uploads_for(base: str, headers: dict[str, str], code: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/api/v1/applications/forms/{code}", headers=headers, timeout=30)
    if response.status_code != 200:
        raise SystemExit(f"GET form {code}: {response.status_code} {response.text[:500]}")
    form = response.json()
    given = []
    for need in form["materials"]:
        if need["provision"] is None:
            photo = "照片" in need["name"]
            content = (b"\xff\xd8\xff\xe0" if photo else b"%PDF-1.7 ") + need["name"].encode()
            response = httpx.post(f"{base}/api/v1/applications/uploads", headers=headers, timeout=30, files={
                "file": ("m.jpg" if photo else "m.pdf", content, "image/jpeg" if photo else "application/pdf")})
            response.raise_for_status()
            given.append({"name": need["name"], "upload_id": response.json()["id"]})
    return given


def http_section(data_dir: Path, database_url: str | None, args: argparse.Namespace, workers: int = 1) -> dict[str, Any]:
    server = Server(data_dir, database_url, workers)
    try:
        server.wait()
        citizen = login(server.base, "citizen", "Citizen@2026")
        server.wait_idle()
        results: dict[str, Any] = {}
        pid = server.process.pid
        results["health (HTTP baseline)"] = asyncio.run(run_load(
            server.base, {}, [{}] * args.generic, args.concurrency, path="/health", method="GET", server_pid=pid))
        generic: list[dict[str, Any]] = [
            {"item_code": GENERIC_ITEM, "form": {"contact_phone": "13874811111", "note": f"压测 {i}"}}
            for i in range(args.generic)]
        results["generic process"] = asyncio.run(run_load(server.base, citizen, generic, args.concurrency,
                                                          server_pid=pid))
        if not args.json:
            console.print(results, style="dim")
        if args.enterprise > 0:
            materials = uploads_for(server.base, citizen, "CS-SCJ-0001")
            enterprise: list[dict[str, Any]] = [
                {"item_code": "CS-SCJ-0001", "form": {**ENTERPRISE_FORM, "note": f"压测 {i}"}, "materials": materials}
                for i in range(args.enterprise)]
            results["enterprise start"] = asyncio.run(run_load(server.base, citizen, enterprise, args.concurrency,
                                                               tag="enterprise", server_pid=pid))
        return results
    finally:
        server.stop()
        log = server.log.read_text(errors="replace").strip()
        if log:
            console.print(f"server log (tail):\n{log[-3000:]}", style="dim")


def compare_section(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Interleaved bursts of generic submissions on a baseline server and the current one (see module doc)."""
    servers: dict[str, Server] = {}
    sources = {"baseline": args.baseline, "current": None}
    try:
        for name, source in sources.items():
            build_city(tmp / f"compare-{name}", None, source)
            servers[name] = Server(tmp / f"compare-{name}", None, 1, source)
        tokens = {}
        for name, server in servers.items():
            server.wait()
            tokens[name] = login(server.base, "citizen", "Citizen@2026")
        for server in servers.values():
            server.wait_idle()
        size = max(1, args.generic // args.bursts)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        for burst in range(args.bursts):
            for name in (list(servers) if burst % 2 == 0 else list(servers)[::-1]):
                bodies = [{"item_code": GENERIC_ITEM, "form": {"contact_phone": "13874811111", "note": f"对比 {burst} {i}"}}
                          for i in range(size)]
                runs[name].append(asyncio.run(run_load(servers[name].base, tokens[name], bodies, args.concurrency,
                                                       tag=f"compare-{burst}", server_pid=servers[name].process.pid)))
    finally:
        for server in servers.values():
            server.stop()
    return {name: {"source": sources[name] or "this tree", "bursts": len(done), "requests_per_burst": size,
                   "median_server_cpu_ms": statistics.median(r["server_cpu_ms"] for r in done),
                   "median_per_second": statistics.median(r["per_second"] for r in done),
                   "median_p99_ms": statistics.median(r["p99_ms"] for r in done),
                   "server_cpu_ms": [r["server_cpu_ms"] for r in done],
                   "statuses": dict(sum((Counter(r["statuses"]) for r in done), Counter()))}
            for name, done in runs.items()}


PROFILE_GROUPS = (
    ("audit", ("xingcheng/core/audit",)),
    ("workflow", ("SpiffWorkflow", "xingcheng/workflow")),
    ("database", ("sqlalchemy", "sqlite3", "psycopg", "_sqlite")),
    ("validation", ("pydantic", "xingcheng/egov/applications/forms", "xingcheng/egov/applications/materials",
                    "xingcheng/core/ids")),
    ("HTTP", ("starlette", "fastapi", "anyio", "httpx", "h11", "uvicorn", "asyncio")),
)


def profile_section(data_dir: Path, submissions: int) -> dict[str, Any]:
    """In-process: the ASGI app under cProfile, self time grouped by package."""
    os.environ.update(server_env(data_dir, None))
    from fastapi.testclient import TestClient

    from xingcheng.app import create_app

    with TestClient(create_app(with_ui=False)) as client:
        token = client.post("/api/v1/auth/token", data={"username": "citizen", "password": "Citizen@2026"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        body = {"item_code": GENERIC_ITEM, "form": {"contact_phone": "13874811111"}}
        client.post("/api/v1/applications", headers=headers, json=body)  # warm the caches
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(submissions):
            client.post("/api/v1/applications", headers=headers, json=body)
        profiler.disable()
    stats = pstats.Stats(profiler)
    totals = dict.fromkeys([g for g, _ in PROFILE_GROUPS] + ["other"], 0.0)
    others: list[tuple[float, str]] = []
    for (filename, line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        group = next((g for g, markers in PROFILE_GROUPS if any(m in filename for m in markers)), "other")
        totals[group] += tottime
        if group == "other":
            others.append((tottime, f"{Path(filename).name}:{line}:{name}"))
    whole = sum(totals.values()) or 1.0
    top = [f"{where} {100 * t / whole:.1f}%" for t, where in sorted(others, reverse=True)[:6]]
    return {group: round(100 * value / whole, 1) for group, value in totals.items()} | {
        "ms_per_submission": round(1000 * whole / submissions, 2), "other_top": top}


def decision_section() -> dict[str, Any]:
    """p50/p99 of one DMN decision over each table's boundary set (the tests' labelled sets)."""
    from xingcheng.workflow import engine

    folder = Path(engine.__file__).parent / "processes"
    axes: dict[str, dict[str, list[Any]]] = {
        "cs_hrss_auto": {"age": [0, 15, 16, 17, 30, 59, 60, 61, 90], "social_insurance_months": [0, 1, 12, 180],
                         "division_code": ["430102", "430181", "431102", "110101"]},
        "cs_hpf_auto": {"retired": [True, False], "age": [49, 50, 51, 59, 60, 61, 75],
                        "housing_fund_status": ["none", "active", "sealed", "closed"],
                        "housing_fund_balance_cents": [-1, 0, 1, 500_000], "division_code": ["430102", "110101"]},
        "cs_ca_auto": {"age": [0, 59, 60, 61, 100], "division_code": ["430102", "430181", "431102", "110101"],
                       "residence_permit_status": ["not_needed", "valid", "expired"]},
    }
    results = {}
    for key, values in axes.items():
        spec = engine.parse_decision((folder / f"{key}.dmn").read_text(encoding="utf-8"))
        cases = [dict(zip(values, combo, strict=True)) for combo in itertools.product(*values.values())]
        timings = []
        for _ in range(5):
            for case in cases:
                started = time.perf_counter()
                engine.decide(spec, case)
                timings.append(time.perf_counter() - started)
        timings.sort()
        results[key] = {"cases": len(cases), "decisions": len(timings),
                        "p50_us": round(1e6 * timings[len(timings) // 2], 1),
                        "p99_us": round(1e6 * timings[int(len(timings) * 0.99)], 1)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generic", type=int, default=600, help="generic submissions (at least 1)")
    parser.add_argument("--enterprise", type=int, default=150, help="enterprise-start submissions (0 = skip)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", type=int, default=100, help="submissions profiled in-process")
    parser.add_argument("--postgres", help="also run against this PostgreSQL URL (created when missing, must be empty)")
    parser.add_argument("--pg-workers", type=int, default=1,
                        help="uvicorn worker processes for the PostgreSQL run (SQLite always runs one)")
    parser.add_argument("--baseline", metavar="SRC", help="compare generic submissions with the package in this source "
                        "directory (e.g. the src/ of a `git worktree` of an earlier commit), in interleaved bursts")
    parser.add_argument("--bursts", type=int, default=6, help="alternating bursts per side for --baseline")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.generic < 1 or args.enterprise < 0 or args.concurrency < 1 or args.bursts < 1:
        parser.error("--generic, --concurrency and --bursts need at least 1, --enterprise at least 0")
    report: dict[str, Any] = {"cores": os.cpu_count(), "concurrency": args.concurrency}
    with tempfile.TemporaryDirectory(prefix="xc-bench-apps-") as tmp:
        data_dir = Path(tmp) / "sqlite"
        if args.baseline:
            report["compare"] = compare_section(Path(tmp), args)
        build_city(data_dir, None)
        report["sqlite"] = http_section(data_dir, None, args)
        report["profile"] = profile_section(data_dir, args.profile)
        if args.postgres:
            pg_dir = Path(tmp) / "postgres"
            ensure_empty_postgres(args.postgres)
            build_city(pg_dir, args.postgres)
            report["postgres"] = http_section(pg_dir, args.postgres, args, workers=args.pg_workers)
    report["decisions"] = decision_section()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    table = Table(title=f"Applications through the HTTP API ({args.concurrency} concurrent clients, "
                        f"{os.cpu_count()} cores)")
    for column in ("database", "workload", "requests", "req/s", "p50 ms", "p99 ms", "server CPU ms/req",
                   "1-core ceiling req/s", "statuses"):
        table.add_column(column)
    for database in ("sqlite", "postgres"):
        for workload, figures in report.get(database, {}).items():
            label = f"postgres, {args.pg_workers} worker(s)" if database == "postgres" else database
            table.add_row(label, workload, str(figures["requests"]), str(figures["per_second"]),
                          str(figures["p50_ms"]), str(figures["p99_ms"]), str(figures["server_cpu_ms"]),
                          str(figures["one_core_ceiling_per_s"]), json.dumps(figures["statuses"]))
    console.print(table)
    if "compare" in report:
        compare = Table(title=f"Generic submissions, SQLite, {args.bursts} interleaved bursts per side")
        for column in ("server", "median server CPU ms/req", "median req/s", "median p99 ms", "CPU ms/req per burst"):
            compare.add_column(column)
        for name, figures in report["compare"].items():
            compare.add_row(f"{name} ({figures['source']})", str(figures["median_server_cpu_ms"]),
                            str(figures["median_per_second"]), str(figures["median_p99_ms"]), str(figures["server_cpu_ms"]))
        console.print(compare)
    console.print("profile (self time, % of in-process submission time):", report["profile"])
    console.print("秒批 DMN decisions:", report["decisions"])


if __name__ == "__main__":
    main()
