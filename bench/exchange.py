"""Sharing exchange benchmark: masked records/s delivering a 10M-row dataset as Parquet/Arrow pages.

    python bench/exchange.py [--rows 10000000] [--page-rows 65536] [--format parquet|arrow] [--sample 100000] [--json]

1. Writes a synthetic population-style dataset (ID number, name, phone, address, district, date) as
   Parquet parts of ``--part-rows`` rows into a temporary lake, the layout the catalogue stores.
2. In a fresh child process (so its peak RSS is the delivery's own), streams every row through the
   exchange's delivery code — ``delivery.masked_batches`` (``catalog.stream`` record batches, only
   the granted columns decoded, ``AccessDecision.apply_table`` → ``core.masking.mask_table``) into a
   ``PageWriter`` over a SHA-256 ``HashingSink`` — the same functions the pull and push paths use.
   The consumer holds a grant covering ``--grant`` fields (masked; default id_number, name, phone
   and address) and reads the L1/L2 columns clear; L3 fields outside the grant are withheld.
3. The baseline, in the same child: ``AccessDecision.apply`` (scalar ``core.masking.mask``) row by
   row over the first ``--sample`` rows as Python dicts — the per-row Python a naive exchange does.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table as RichTable

from xingcheng.core.auth import Principal
from xingcheng.core.grants.policy import AccessDecision, ResourceDescriptor, decide
from xingcheng.datahub.catalog.storage import arrow_schema
from xingcheng.datahub.catalog.stream import Cursor, Part
from xingcheng.datahub.exchange.delivery import HashingSink, PageWriter, delivered_columns, masked_batches

console = Console(width=max(Console().width, 110))
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


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_delivery(root: str, parts: list[Part], page_rows: int, fmt: str, sample: int, fields: list[str],
                 out: Any, mask_only: bool = True) -> None:
    """The measured part, in a fresh process: stream, mask, encode, hash; then the per-row baseline."""
    granted = decision(fields)
    schema = arrow_schema(FIELDS)
    rss_start = peak_rss_mib()
    target = Path(root) / f"delivered.{fmt}"
    started = time.perf_counter()
    pages = 0
    with target.open("wb") as handle:
        sink = HashingSink(handle)
        columns = delivered_columns(granted, schema)
        writer = PageWriter(sink, granted.apply_table(schema.empty_table().select(columns)).schema,
                            "parquet" if fmt == "parquet" else "arrow")
        for table, _after in masked_batches(granted, Path(root), parts, schema, Cursor(), max_rows=page_rows):
            writer.write(table)
            pages += 1
        digest = writer.close()
    seconds = time.perf_counter() - started
    vector_peak = peak_rss_mib()
    # Read-and-mask alone (no encoding), to show where the time goes.
    started = time.perf_counter()
    masked = sum(t.num_rows for t, _ in masked_batches(granted, Path(root), parts, schema, Cursor(), max_rows=page_rows)
                 ) if mask_only else 0
    mask_seconds = max(time.perf_counter() - started, 1e-9)
    handle = pq.ParquetFile(Path(root) / parts[0].location)
    first = next(handle.iter_batches(batch_size=sample)).to_pylist()
    started = time.perf_counter()
    baseline = [granted.apply(row) for row in first]
    baseline_seconds = time.perf_counter() - started
    out.put({"records": writer.records, "pages": pages, "seconds": seconds, "bytes": sink.size, "sha256": digest,
             "peak_rss_mib_start": rss_start, "peak_rss_mib": vector_peak, "mask_only_records": masked,
             "mask_only_seconds": mask_seconds, "baseline_records": len(baseline), "baseline_seconds": baseline_seconds})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--part-rows", type=int, default=1_000_000)
    parser.add_argument("--page-rows", type=int, default=65_536)
    parser.add_argument("--format", choices=("parquet", "arrow"), default="parquet")
    parser.add_argument("--sample", type=int, default=100_000)
    parser.add_argument("--grant", default="id_number,name,phone,address",
                        help="granted L3 fields, delivered masked (the others are withheld)")
    parser.add_argument("--no-mask-only", action="store_true", help="skip the second, encode-free pass")
    parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    args = parser.parse_args()
    fields = [f.strip() for f in args.grant.split(",") if f.strip()]
    with tempfile.TemporaryDirectory(prefix="xc-bench-exchange-") as tmp:
        started = time.perf_counter()
        parts = build_lake(Path(tmp), args.rows, args.part_rows)
        built = time.perf_counter() - started
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=run_delivery, args=(tmp, parts, args.page_rows, args.format,
                                                           min(args.sample, args.rows), fields, queue,
                                                           not args.no_mask_only))
        child.start()
        result = queue.get()
        child.join()
    rate = result["records"] / result["seconds"]
    base_rate = result["baseline_records"] / result["baseline_seconds"]
    summary = {
        "rows": args.rows, "format": args.format, "masked_fields": fields, "page_rows": args.page_rows, "cores": os.cpu_count(),
        "records_per_s": round(rate), "mask_only_records_per_s": round(result["mask_only_records"] /
                                                                       result["mask_only_seconds"]),
        "baseline_per_row_records_per_s": round(base_rate), "speedup": round(rate / base_rate, 1),
        "peak_rss_mib": round(result["peak_rss_mib"], 1), "delivered_bytes": result["bytes"],
        "pages": result["pages"], "seconds": round(result["seconds"], 2), "sha256": result["sha256"],
        "lake_build_seconds": round(built, 1),
    }
    if args.json:
        print(json.dumps(summary))
        return
    table = RichTable(title=f"exchange delivery: {args.rows:,} rows, masked {'/'.join(fields)}, {args.format} pages "
                            f"of {args.page_rows:,} rows, {os.cpu_count()} cores")
    for column in ("path", "records/s", "notes"):
        table.add_column(column)
    table.add_row("stream → mask → encode → hash", f"{rate:,.0f}",
                  f"{result['seconds']:.1f} s, {result['bytes'] / 2**20:,.0f} MiB out, peak RSS "
                  f"{result['peak_rss_mib']:,.0f} MiB")
    if result["mask_only_records"]:
        table.add_row("stream → mask (no encoding)", f"{summary['mask_only_records_per_s']:,}", "")
    table.add_row("baseline: per-row Python apply()", f"{base_rate:,.0f}",
                  f"{result['baseline_records']:,} rows sample (masking only, reads not counted)")
    console.print(table)
    console.print(f"speed-up ×{summary['speedup']}; goal ≥ 1,000,000 records/s: "
                  f"{'met' if rate >= 1_000_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
