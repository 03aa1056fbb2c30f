"""Masking throughput: Arrow-vectorised ``mask_table`` against the per-row Python loop, same run.

A record is one person row with an ID number, a name and a mobile number (three fields masked
at the ``partial`` level). The data are synthetic but realistic: valid GB 11643 numbers from
Changsha divisions, common and compound surnames, valid mobile prefixes. The vectorised result
is checked against the per-row result before any figure is printed.

    python bench/masking.py [--records 1000000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from datetime import date, timedelta

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from xingcheng.core.ids import make_id_number
from xingcheng.core.masking import mask, mask_table

DIVISIONS = ["430102", "430103", "430104", "430105", "430111", "430112", "430121", "430181", "430182"]
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾"
    "夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤"
)
COMPOUND = ["欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐"]
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬斌宇浩凯健俊帆")
MOBILE_PREFIXES = ["130", "131", "132", "135", "136", "138", "139", "150", "151", "158", "166", "177", "180", "186", "188", "199"]
FIELD_KINDS = {"id_number": "id_number", "name": "name", "phone": "phone"}


def make_people(count: int, seed: int = 2026) -> pa.Table:
    rng = random.Random(seed)
    start, span = date(1940, 1, 1), (date(2008, 12, 31) - date(1940, 1, 1)).days
    ids, names, phones = [], [], []
    for _ in range(count):
        birth = start + timedelta(days=rng.randrange(span))
        ids.append(make_id_number(rng.choice(DIVISIONS), birth, rng.randrange(500), rng.choice("MF")))  # type: ignore[arg-type]
        surname = rng.choice(COMPOUND) if rng.random() < 0.02 else rng.choice(SURNAMES)
        names.append(surname + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2)))))
        phones.append(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}")
    return pa.table({"id_number": ids, "name": names, "phone": phones})


def per_row(table: pa.Table) -> dict[str, list[str | None]]:
    return {column: [mask(kind, value) for value in table.column(column).to_pylist()] for column, kind in FIELD_KINDS.items()}


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the best is reported")
    parser.add_argument("--chunk", type=int, default=125_000, help="rows per Arrow chunk (threads split on chunks)")
    parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    args = parser.parse_args()
    console = Console(stderr=args.json)

    with console.status(f"generating {args.records:,} people"):
        table = make_people(args.records)
        table = pa.Table.from_batches(table.to_batches(max_chunksize=args.chunk))

    methods: dict[str, Callable[[], object]] = {
        "per-row Python (mask())": lambda: per_row(table),
        "vectorised, 1 thread": lambda: mask_table(table, FIELD_KINDS, use_threads=False),
        f"vectorised, {pa.cpu_count()} threads": lambda: mask_table(table, FIELD_KINDS, use_threads=True),
    }
    timings: dict[str, float] = {}
    results: dict[str, object] = {}
    for name, run in methods.items():
        with console.status(f"{name} ×{args.repeat}"):
            timings[name], results[name] = best_of(args.repeat if "per-row" not in name else 1, run)

    expected = results["per-row Python (mask())"]
    for name, result in results.items():
        if isinstance(result, pa.Table) and {c: result.column(c).to_pylist() for c in FIELD_KINDS} != expected:
            raise SystemExit(f"{name} differs from the per-row result")

    baseline = timings["per-row Python (mask())"]
    rows = [
        {"method": name, "seconds": round(seconds, 4), "records_per_s": round(args.records / seconds),
         "fields_per_s": round(len(FIELD_KINDS) * args.records / seconds), "speedup": round(baseline / seconds, 1)}
        for name, seconds in timings.items()
    ]
    if args.json:
        print(json.dumps({"records": args.records, "cpus": pa.cpu_count(), "pyarrow": pa.__version__, "results": rows}))
        return
    title = f"Masking {args.records:,} records (ID number, name, phone), pyarrow {pa.__version__}, {pa.cpu_count()} CPUs"
    out = Table(title=title)
    for header in ("method", "seconds", "records/s", "fields/s", "speedup"):
        out.add_column(header, justify="left" if header == "method" else "right")
    for row in rows:
        out.add_row(row["method"], f"{row['seconds']:.3f}", f"{row['records_per_s']:,}", f"{row['fields_per_s']:,}",
                    f"{row['speedup']}×")
    console.print(out)
    console.print("vectorised results equal the per-row results for every record.")


if __name__ == "__main__":
    main()
