"""Sharing exchange benchmark: masked records/s delivering a 10M-row dataset as Parquet/Arrow pages.

    python bench/exchange.py [--rows 10000000] [--page-rows 65536] [--paths old,parquet,arrow,arrow-lz4,mask]
                             [--sample 100000] [--grant id_number,name,phone,address] [--no-verify] [--json]

1. Writes a synthetic population-style dataset (ID number, name, phone, address, district, date) as
   Parquet parts of ``--part-rows`` rows into a temporary lake, the layout the catalogue stores.
2. Runs each delivery path in its own fresh child process (so each peak RSS is that path's own),
   streaming every row through the exchange's delivery code — ``delivery.masked_batches``
   (``catalog.stream`` record batches, only the granted columns decoded, ``AccessDecision.apply_table``
   → ``core.masking.mask_table``) into a ``PageWriter`` over a SHA-256 ``HashingSink``:

   * ``old``: the previous path, kept here verbatim — one thread reads, masks, then encodes zstd
     Parquet with pyarrow's default writer options (dictionary and statistics on every column)
     straight into the Python sink;
   * ``parquet``, ``parquet-lz4``, ``parquet-snappy``: ``delivery.encode`` as the push path runs it —
     read-ahead thread, masking in the caller's thread, encoding + hashing in a third, bounded queues
     of two pages, ``write_options`` (no dictionary for nearly unique masked columns, no statistics
     for masked ones), 1 MiB buffered writes;
   * ``arrow``, ``arrow-lz4``, ``arrow-zstd``: the same pipeline writing an Arrow IPC stream;
   * ``mask``: stream → mask only (read-ahead on, nothing encoded), to show where the time goes.

   The consumer holds a grant covering ``--grant`` fields (masked; default id_number, name, phone
   and address) and reads the L1/L2 columns clear; L3 fields outside the grant are withheld.
3. The baseline, in another child: ``AccessDecision.apply`` (scalar ``core.masking.mask``) row by
   row over the first ``--sample`` rows as Python dicts — the per-row Python a naive exchange does.
4. Unless ``--no-verify``: every delivered file is decoded again and compared row for row with the
   ``old`` path's output, and each file's SHA-256 recomputed against the hash the path reported.

CPU seconds per million rows (user + system of the child) are printed beside the wall-clock rate:
on a shared machine they show what the path costs whatever the load.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.ipc as ipc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
from rich.console import Console
from rich.table import Table as RichTable

from xingcheng.core.auth import Principal
from xingcheng.core.grants.policy import AccessDecision, ResourceDescriptor, decide
from xingcheng.datahub.catalog.storage import arrow_schema
from xingcheng.datahub.catalog.stream import Cursor, Part
from xingcheng.datahub.exchange.delivery import HashingSink, delivered_columns, encode, masked_batches, write_options

console = Console(width=max(Console().width, 150))
FIELDS: list[dict[str, Any]] = [
    {"name": "id_number", "type": "string", "kind": "id_number", "grade": "L3"},
    {"name": "name", "type": "string", "kind": "name", "grade": "L3"},
    {"name": "phone", "type": "string", "kind": "phone", "grade": "L3"},
    {"name": "address", "type": "string", "kind": "address", "grade": "L3"},
    {"name": "division_code", "type": "string", "kind": "free", "grade": "L1"},
    {"name": "registered_on", "type": "date", "kind": "free", "grade": "L2"},
]
DISTRICTS = ["430102", "430103", "430104", "430105", "430111", "430112", "430121", "430181", "430182"]
DISTRICT_NAMES = ["芙蓉区", "天心区", "岳麓区", "开福区", "雨花区", "望城区", "长沙县", "浏阳市", "宁乡市"]
SURNAMES = [*"王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "欧阳", "司马", "诸葛"]
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华")
ROADS = ["五一大道", "芙蓉中路", "人民东路", "麓山南路", "韶山北路", "湘江中路", "劳动西路", "万家丽路", "东二环"]
PURPOSE = "social-assistance-verification"


@dataclass(frozen=True)
class Grant:  # the GrantTerms the policy reads
    id: int
    resource_key: str
    grantee_department_code: str
    fields: list[str] | None
    grade_ceiling: str
    purpose: str
    valid_from: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


def decision(granted: list[str]) -> AccessDecision:
    now = datetime.now(UTC)
    resource = ResourceDescriptor("dataset:gaj/population-bench", "gaj", "L3",
                                  {f["name"]: (f["grade"], f["kind"] if f["kind"] != "free" else None) for f in FIELDS})
    grant = Grant(1, resource.key, "mz", granted, "L3", PURPOSE,
                  now - timedelta(days=1), now + timedelta(days=30))
    consumer = Principal(kind="staff", name="bench", roles=frozenset({"department_staff"}), department_code="mz")
    return decide(consumer, resource, PURPOSE, [grant], now=now).require()


def synthetic(rng: np.random.Generator, n: int, offset: int) -> pa.Table:
    district = rng.integers(0, len(DISTRICTS), n)
    codes = pa.array(DISTRICTS).take(pa.array(district))
    births = pc.cast(pa.array(rng.integers(19500101, 20101231, n)), pa.string())
    serial = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 10_000, n)), pa.string()), 4, "0")
    ids = pc.binary_join_element_wise(codes, births, serial, "")
    surname = pa.array(SURNAMES).take(pa.array(rng.integers(0, len(SURNAMES), n)))
    given = pc.binary_join_element_wise(pa.array(GIVEN).take(pa.array(rng.integers(0, len(GIVEN), n))),
                                        pa.array(GIVEN).take(pa.array(rng.integers(0, len(GIVEN), n))), "")
    names = pc.binary_join_element_wise(surname, given, "")
    phones = pc.binary_join_element_wise(
        pa.array(["138", "139", "186", "199", "150"]).take(pa.array(rng.integers(0, 5, n))),
        pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 100_000_000, n)), pa.string()), 8, "0"), "")
    addresses = pc.binary_join_element_wise(
        pa.scalar("湖南省长沙市"), pa.array(DISTRICT_NAMES).take(pa.array(district)),
        pa.array(ROADS).take(pa.array(rng.integers(0, len(ROADS), n))),
        pc.cast(pa.array(rng.integers(1, 999, n) + offset % 7), pa.string()), pa.scalar("号"), "")
    days = pa.array(rng.integers(16_000, 20_000, n).astype("int32")).cast(pa.date32())
    return pa.table([ids, names, phones, addresses, codes, days], schema=arrow_schema(FIELDS))


def build_lake(root: Path, rows: int, part_rows: int) -> list[Part]:
    rng = np.random.default_rng(2026)
    parts: list[Part] = []
    for number, start in enumerate(range(0, rows, part_rows), start=1):
        count = min(part_rows, rows - start)
        location = f"datasets/gaj/population-bench/v1/part-{number:04d}.parquet"
        (root / location).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(synthetic(rng, count, start), root / location, compression="zstd", row_group_size=131_072)
        parts.append(Part(number, location, count))
    return parts


PATHS = ("old", "parquet", "parquet-lz4", "parquet-snappy", "arrow", "arrow-lz4", "arrow-zstd", "mask")
DEFAULT_PATHS = "old,parquet,arrow,arrow-lz4,mask"


def peak_rss_mib() -> float:
    """This process's own peak RSS. Linux carries ``ru_maxrss`` across fork + exec, so a spawned child
    would report the parent's lake-building peak; ``VmHWM`` belongs to the child's own address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class OldPageWriter:
    """The delivery writer before the pipeline (kept verbatim as the same-run baseline): zstd Parquet with
    pyarrow's defaults, written unbuffered into the Python hashing sink."""

    def __init__(self, sink: HashingSink, schema: pa.Schema) -> None:
        self.sink, self.records = sink, 0
        self._handle = pa.PythonFile(sink, mode="w")
        self._writer = pq.ParquetWriter(self._handle, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.records += table.num_rows

    def close(self) -> str:
        self._writer.close()
        self._handle.flush()
        return self.sink.hexdigest()


def delivered_path(root: str, path: str) -> Path:
    return Path(root) / f"delivered-{path}.{'arrow' if path.startswith('arrow') else 'parquet'}"


def run_path(root: str, parts: list[Part], page_rows: int, path: str, fields: list[str], out: Any) -> None:
    """The measured part, in a fresh process: one delivery path over every row."""
    granted = decision(fields)
    schema = arrow_schema(FIELDS)
    columns = delivered_columns(granted, schema)
    delivered = granted.apply_table(schema.empty_table().select(columns)).schema
    target = delivered_path(root, path)
    result: dict[str, Any] = {"path": path, "peak_rss_mib_start": peak_rss_mib()}
    cpu, started = cpu_seconds(), time.perf_counter()
    if path == "mask":
        records = sum(t.num_rows for t, _ in masked_batches(granted, Path(root), parts, schema, Cursor(),
                                                            max_rows=page_rows, prefetch=True))
        size, digest = 0, ""
    elif path == "old":
        with target.open("wb") as handle:
            sink = HashingSink(handle)
            writer = OldPageWriter(sink, delivered)
            for table, _after in masked_batches(granted, Path(root), parts, schema, Cursor(), max_rows=page_rows):
                writer.write(table)
            digest, records, size = writer.close(), writer.records, sink.size
    else:
        fmt, _, codec = path.partition("-")
        options = write_options("arrow" if fmt == "arrow" else "parquet", codec or None, granted, schema)
        tables = (t for t, _ in masked_batches(granted, Path(root), parts, schema, Cursor(), max_rows=page_rows,
                                               prefetch=True))
        with target.open("wb") as handle:
            records, size, digest = encode(tables, delivered, "arrow" if fmt == "arrow" else "parquet", handle, options)
    result.update(records=records, seconds=time.perf_counter() - started, cpu_seconds=cpu_seconds() - cpu,
                  bytes=size, sha256=digest, peak_rss_mib=peak_rss_mib())
    out.put(result)


def run_baseline(root: str, parts: list[Part], sample: int, fields: list[str], out: Any) -> None:
    """Per-row Python: ``AccessDecision.apply`` over ``sample`` rows as dicts (reading not counted)."""
    granted = decision(fields)
    handle = pq.ParquetFile(Path(root) / parts[0].location)
    first = next(handle.iter_batches(batch_size=sample)).to_pylist()
    started = time.perf_counter()
    baseline = [granted.apply(row) for row in first]
    out.put({"records": len(baseline), "seconds": time.perf_counter() - started})


def in_child(target: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=target, args=(*args, queue))
    child.start()
    result: dict[str, Any] = queue.get()
    child.join()
    return result


def read_back(path: Path, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    if path.suffix == ".arrow":
        with pa.OSFile(str(path)) as handle:
            yield from ipc.open_stream(handle)
    else:
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)


def same_rows(left: Path, right: Path) -> bool:
    """Row-for-row equality of two delivered files, streamed (batch boundaries may differ)."""
    right_batches = read_back(right)
    buffered: pa.Table | None = None
    for batch in read_back(left):
        offset = 0
        while offset < batch.num_rows:
            if buffered is None or buffered.num_rows == 0:
                nxt = next(right_batches, None)
                if nxt is None:
                    return False
                buffered = pa.Table.from_batches([nxt])
            take = min(batch.num_rows - offset, buffered.num_rows)
            if not pa.Table.from_batches([batch.slice(offset, take)]).equals(buffered.slice(0, take).combine_chunks()):
                return False
            buffered, offset = buffered.slice(take), offset + take
    return (buffered is None or buffered.num_rows == 0) and next(right_batches, None) is None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--part-rows", type=int, default=1_000_000)
    parser.add_argument("--page-rows", type=int, default=65_536)
    parser.add_argument("--paths", default=DEFAULT_PATHS, help=f"comma-separated, of {', '.join(PATHS)}")
    parser.add_argument("--sample", type=int, default=100_000)
    parser.add_argument("--grant", default="id_number,name,phone,address",
                        help="granted L3 fields, delivered masked (the others are withheld)")
    parser.add_argument("--no-verify", action="store_true", help="skip decoding the outputs again to compare them")
    parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    args = parser.parse_args()
    fields = [f.strip() for f in args.grant.split(",") if f.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        parser.error(f"未知的交付路径 {', '.join(unknown)}；可选 {', '.join(PATHS)}")
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="xc-bench-exchange-") as tmp:
        started = time.perf_counter()
        parts = build_lake(Path(tmp), args.rows, args.part_rows)
        built = time.perf_counter() - started
        for path in paths:
            results[path] = in_child(run_path, tmp, parts, args.page_rows, path, fields)
        baseline = in_child(run_baseline, tmp, parts, min(args.sample, args.rows), fields)
        load_after = os.getloadavg()
        if not args.no_verify:
            files = {p: delivered_path(tmp, p) for p in results if p != "mask"}
            reference = files.get("old") or next(iter(files.values()), None)
            for path, file in files.items():
                results[path]["hash_ok"] = file_sha256(file) == results[path]["sha256"]
                results[path]["same_rows_as_old"] = reference is not None and same_rows(reference, file)
    base_rate = baseline["records"] / baseline["seconds"]
    for result in results.values():
        result["records_per_s"] = round(result["records"] / result["seconds"])
        result["cpu_seconds_per_million"] = round(result["cpu_seconds"] / max(result["records"], 1) * 1e6, 2)
        result["cores_busy"] = round(result["cpu_seconds"] / result["seconds"], 2)  # > 1: the stages overlapped
        result["speedup_vs_per_row"] = round(result["records_per_s"] / base_rate, 1)
    delivered = [r for p, r in results.items() if p != "mask"]
    best = max(delivered, key=lambda r: r["records_per_s"]) if delivered else None
    summary = {
        "rows": args.rows, "masked_fields": fields, "page_rows": args.page_rows, "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before], "load_average_after": [round(x, 2) for x in load_after],
        "baseline_per_row_records_per_s": round(base_rate), "baseline_records": baseline["records"],
        "lake_build_seconds": round(built, 1), "paths": results,
        "goal_met": bool(best and best["records_per_s"] >= 1_000_000),
    }
    if args.json:
        print(json.dumps(summary))
        return
    table = RichTable(title=f"exchange delivery: {args.rows:,} rows, masked {'/'.join(fields)}, pages of "
                            f"{args.page_rows:,} rows, {os.cpu_count()} cores")
    for column in ("path", "records/s", "CPU s / 1M rows", "cores busy", "seconds", "MiB out", "peak RSS MiB (start)",
                   "×per-row", "checks"):
        table.add_column(column, justify="left" if column in ("path", "checks") else "right")
    for path, r in results.items():
        checks = "" if "hash_ok" not in r else (f"{'哈希一致' if r['hash_ok'] else '哈希不一致'}，"
                                                 f"{'行与 old 相同' if r['same_rows_as_old'] else '行与 old 不同'}")
        table.add_row(path, f"{r['records_per_s']:,}", f"{r['cpu_seconds_per_million']:.2f}", f"{r['cores_busy']:.2f}",
                      f"{r['seconds']:.1f}", f"{r['bytes'] / 2**20:,.0f}",
                      f"{r['peak_rss_mib']:,.0f} ({r['peak_rss_mib_start']:,.0f})", f"{r['speedup_vs_per_row']}", checks)
    table.add_row("per-row apply() baseline", f"{base_rate:,.0f}", "", "", "", "", "", "1",
                  f"{baseline['records']:,} 行样本，仅脱敏")
    console.print(table)
    console.print(f"负载 (1/5/15 分钟)：开始 {' '.join(f'{x:.2f}' for x in load_before)}，结束 "
                  f"{' '.join(f'{x:.2f}' for x in load_after)}")
    if best:
        console.print(f"最快交付路径 {best['path']}：{best['records_per_s']:,} 条/秒；目标 ≥ 1,000,000 条/秒："
                      f"{'达到' if summary['goal_met'] else '未达到'}")


if __name__ == "__main__":
    main()
