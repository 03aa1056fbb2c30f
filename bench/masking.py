"""Masking throughput: Arrow-vectorised ``mask_table`` against the per-row Python loop, same run.

A record is one person row with an ID number, a name, a mobile number and an address (the
fields of ``--fields``, masked at the ``partial`` level; before 2026-11-25 19:30 the bench masked
only the first three). The data are synthetic but realistic: valid GB 11643 numbers from
Changsha divisions, common and compound surnames, valid mobile prefixes, addresses with a
division prefix, a road, a house number and sometimes a building and room. The vectorised
result is checked against the per-row result before any figure is printed.

    python bench/masking.py [--records 1000000] [--repeat 3] [--fields id_number,name,phone,address] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from datetime import date, timedelta

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
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
DIVISION_NAMES = ["芙蓉区", "天心区", "岳麓区", "开福区", "雨花区", "望城区", "长沙县", "浏阳市", "宁乡市"]
ROADS = ["五一大道", "芙蓉中路", "人民东路", "麓山南路", "韶山北路", "湘江中路", "劳动西路", "万家丽路", "东二环", "市府路",
         "桐梓坡路", "金星北路", "星沙大道", "集里街道花园路", "玉潭镇新康路"]
FIELD_KINDS = {"id_number": "id_number", "name": "name", "phone": "phone", "address": "address"}


def make_people(count: int, seed: int = 2026) -> pa.Table:
    rng = random.Random(seed)
    start, span = date(1940, 1, 1), (date(2008, 12, 31) - date(1940, 1, 1)).days
    ids, names, phones, addresses = [], [], [], []
    for _ in range(count):
        birth = start + timedelta(days=rng.randrange(span))
        division = rng.randrange(len(DIVISIONS))
        ids.append(make_id_number(DIVISIONS[division], birth, rng.randrange(500), rng.choice("MF")))  # type: ignore[arg-type]
        building = f"{rng.randrange(1, 30)}栋{rng.randrange(1, 6)}单元{rng.randrange(1, 33)}0{rng.randrange(1, 5)}室" \
            if rng.random() < 0.5 else ""
        addresses.append(("湖南省" if rng.random() < 0.5 else "") + "长沙市" + DIVISION_NAMES[division]
                         + rng.choice(ROADS) + f"{rng.randrange(1, 2000)}号" + building)
        surname = rng.choice(COMPOUND) if rng.random() < 0.02 else rng.choice(SURNAMES)
        names.append(surname + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2)))))
        phones.append(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}")
    return pa.table({"id_number": ids, "name": names, "phone": phones, "address": addresses})


def per_row(table: pa.Table, kinds: dict[str, str]) -> dict[str, list[str | None]]:
    return {column: [mask(kind, value) for value in table.column(column).to_pylist()] for column, kind in kinds.items()}


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
    parser.add_argument("--fields", default=",".join(FIELD_KINDS), help=f"masked fields, of {', '.join(FIELD_KINDS)}")
    parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    args = parser.parse_args()
    console = Console(stderr=args.json)
    kinds = {name: FIELD_KINDS[name] for name in (f.strip() for f in args.fields.split(",")) if name}

    with console.status(f"generating {args.records:,} people"):
        table = make_people(args.records)
        table = pa.Table.from_batches(table.to_batches(max_chunksize=args.chunk))

    methods: dict[str, Callable[[], object]] = {
        "per-row Python (mask())": lambda: per_row(table, kinds),
        "vectorised, 1 thread": lambda: mask_table(table, kinds, use_threads=False),
        f"vectorised, {pa.cpu_count()} threads": lambda: mask_table(table, kinds, use_threads=True),
    }
    timings: dict[str, float] = {}
    results: dict[str, object] = {}
    for name, run in methods.items():
        with console.status(f"{name} ×{args.repeat}"):
            timings[name], results[name] = best_of(args.repeat if "per-row" not in name else 1, run)

    expected = results["per-row Python (mask())"]
    for name, result in results.items():
        if isinstance(result, pa.Table) and {c: result.column(c).to_pylist() for c in kinds} != expected:
            raise SystemExit(f"{name} differs from the per-row result")

    baseline = timings["per-row Python (mask())"]
    rows = [
        {"method": name, "seconds": round(seconds, 4), "records_per_s": round(args.records / seconds),
         "fields_per_s": round(len(kinds) * args.records / seconds), "speedup": round(baseline / seconds, 1)}
        for name, seconds in timings.items()
    ]
    if args.json:
        print(json.dumps({"records": args.records, "fields": list(kinds), "cpus": pa.cpu_count(), "pyarrow": pa.__version__,
                          "load_average": [round(x, 2) for x in os.getloadavg()], "results": rows}))
        return
    title = f"Masking {args.records:,} records ({', '.join(kinds)}), pyarrow {pa.__version__}, {pa.cpu_count()} CPUs"
    out = Table(title=title)
    for header in ("method", "seconds", "records/s", "fields/s", "speedup"):
        out.add_column(header, justify="left" if header == "method" else "right")
    for row in rows:
        out.add_row(row["method"], f"{row['seconds']:.3f}", f"{row['records_per_s']:,}", f"{row['fields_per_s']:,}",
                    f"{row['speedup']}×")
    console.print(out)
    console.print("vectorised results equal the per-row results for every record.")
    console.print(f"负载 (1/5/15 分钟)：{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
