"""Q&A finder benchmark: latency per question and accuracy, against a naive substring baseline.

    python bench/qa.py [--repeat 5] [--json]

The index holds the shipped catalogue as ``make run`` loads it: 383 items, their 2,228 实施清单
entries (indexed by place) and the FAQ seed. Questions are the labelled sets in ``tests/data``
(dev + held-out), asked ``--repeat`` times each. Three ways, in the same run:

* ``index``: the BM25 field-weighted search alone (what ``qa eval`` measures);
* ``answer``: the full answer (search + guide facts + clarification + follow-ups), as the API builds it
  before logging;
* ``baseline``: naive substring scoring — count the question's character bigrams found in each item's
  name (×3), aliases and materials, over every item and implementation entry, best first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from xingcheng.egov.qa import service, text
from xingcheng.egov.qa.index import QaIndex

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def load_questions() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for name in ("qa_dev.jsonl", "qa_heldout.jsonl"):
        rows += [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


class SubstringBaseline:
    """Score every item and every implementation entry by bigram containment; no index at all."""

    def __init__(self, index: QaIndex) -> None:
        self.rows = [(doc.code, doc.name, " ".join(doc.aliases), " ".join(doc.materials)) for doc in index.docs]
        by_code = {doc.code: doc for doc in index.docs}
        self.rows += [(p.item_code, by_code[p.item_code].name + p.office_name, " ".join(by_code[p.item_code].aliases),
                       " ".join(by_code[p.item_code].materials)) for p in index.places]

    def search(self, question: str, limit: int = 3) -> list[str]:
        pairs = text.bigrams(question)
        best: dict[str, int] = {}
        for code, name, aliases, materials in self.rows:
            score = sum(3 * (p in name) + (p in aliases) + (p in materials) for p in pairs)
            if score > best.get(code, 0):
                best[code] = score
        return [code for code, _ in sorted(best.items(), key=lambda kv: -kv[1])[:limit]]


def measure(fn: Any, questions: list[dict[str, str]], repeat: int) -> tuple[list[float], list[float], float, float]:
    """Wall-clock and CPU (thread) milliseconds per question; CPU time is what a busy machine cannot inflate."""
    timings: list[float] = []
    cpu: list[float] = []
    top1 = top3 = 0
    for round_number in range(repeat):
        for row in questions:
            start, start_cpu = time.perf_counter(), time.thread_time()
            codes = fn(row["question"])
            timings.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
            if round_number == 0:
                top1 += bool(codes) and codes[0] == row["item_code"]
                top3 += row["item_code"] in codes[:3]
    return timings, cpu, top1 / len(questions), top3 / len(questions)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="times each question is asked")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    console = Console(stderr=True)

    start = time.perf_counter()
    bundle = service.bundle_from_package()
    build_seconds = time.perf_counter() - start
    questions = load_questions()
    baseline = SubstringBaseline(bundle.index)
    bundle.index.search("预热")  # first call pays for lazy caches, as a running server already has

    ways = {
        "index": lambda q: [h.code for h in bundle.index.search(q).hits],
        "answer": lambda q: [a["item_code"] for a in service.answer(bundle, q)["answers"]],
        "baseline": baseline.search,
    }
    results: dict[str, dict[str, float]] = {}
    for name, fn in ways.items():
        timings, cpu, top1, top3 = measure(fn, questions, args.repeat)
        results[name] = {
            "p50_ms": round(statistics.median(timings), 3), "p95_ms": round(percentile(timings, 95), 3),
            "cpu_p50_ms": round(statistics.median(cpu), 3), "cpu_p95_ms": round(percentile(cpu, 95), 3),
            "max_ms": round(max(timings), 3), "top1": round(top1, 4), "top3": round(top3, 4),
        }
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "items": len(bundle.index.docs), "implementation_entries": len(bundle.index.places),
        "faq_pairs": sum(len(v) for v in bundle.faq.values()), "indexed_entries": bundle.index.size,
        "vocabulary": len(bundle.index.vocab), "build_seconds": round(build_seconds, 2),
        "questions": len(questions), "repeat": args.repeat, "load_average": round(os.getloadavg()[0], 1),
        "results": results,
    }
    if args.json:
        print(json.dumps(report))
        return
    console.print(f"{report['machine']}, load average {os.getloadavg()[0]:.1f}")
    console.print(f"index: {report['items']} items + {report['implementation_entries']} implementation entries "
                  f"+ {report['faq_pairs']} FAQ pairs, {report['vocabulary']} terms, built in {build_seconds:.2f} s; "
                  f"{len(questions)} questions × {args.repeat}")
    table = Table("method", "p50 ms", "p95 ms", "max ms", "CPU p50 ms", "CPU p95 ms", "top-1", "top-3")
    for name, r in results.items():
        table.add_row(name, f"{r['p50_ms']:.2f}", f"{r['p95_ms']:.2f}", f"{r['max_ms']:.2f}",
                      f"{r['cpu_p50_ms']:.2f}", f"{r['cpu_p95_ms']:.2f}",
                      f"{r['top1']:.1%}", f"{r['top3']:.1%}")
    Console().print(table)


if __name__ == "__main__":
    main()
