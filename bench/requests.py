"""Citizen-request routing benchmark: department accuracy, training time and routing throughput of the
shipped router against two baselines measured in the same run.

    python bench/requests.py [--eval tests/data/requests_eval.jsonl] [--json]

Baselines: (1) keyword rules — the categories' Open311 keywords, first match wins, else the most
frequent department; (2) the same linear SVM on character n-grams only (no jieba words, no pinyin).
The evaluation file is never trained on. 2 cores; training is single-threaded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from xingcheng.governance.requests import classifier  # noqa: E402
from xingcheng.governance.requests.categories import CATEGORIES, by_code  # noqa: E402


def keyword_baseline(texts: list[str]) -> list[str]:
    fallback = Counter(by_code()[e.category].department_code for e in classifier.shipped_examples()).most_common(1)[0][0]
    out = []
    for text in texts:
        hit = next((c.department_code for c in CATEGORIES for k in c.keywords if k in text), None)
        out.append(hit or fallback)
    return out




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=ROOT / "tests" / "data" / "requests_eval.jsonl")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pairs = [(d["text"], d["department_code"]) for d in map(json.loads, args.eval.read_text(encoding="utf-8").splitlines()) if d]
    texts, gold = [t for t, _ in pairs], [g for _, g in pairs]
    examples = classifier.shipped_examples()
    import jieba  # type: ignore[import-untyped, unused-ignore]

    jieba.initialize()
    rows = []

    start = time.perf_counter()
    predicted = keyword_baseline(texts)
    elapsed = time.perf_counter() - start
    rows.append(("keyword rules (baseline)", sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold), 0.0,
                 len(texts) / elapsed))


    for name, features in (("char n-grams only (baseline)", "char"), ("char + jieba + pinyin (shipped)", "all")):
        start = time.perf_counter()
        router = classifier.RequestRouter(examples)
        trained = time.perf_counter() - start
        if features == "char":
            # The same model on the character n-gram block alone (timed on its own: vectorise + fit).
            from sklearn.svm import LinearSVC

            start = time.perf_counter()
            data = classifier._augment(examples)
            router._vectorizers = router._vectorizers[:1]
            matrix = router._vectorizers[0].fit_transform([classifier.normalise(e.text) for e in data])
            router._model = LinearSVC(C=0.5).fit(matrix, [e.category for e in data])
            trained = time.perf_counter() - start
        latencies = []
        for text in texts[:200]:
            t0 = time.perf_counter()
            router.route(text)
            latencies.append(time.perf_counter() - t0)
        result = classifier.evaluate(router, pairs)
        rows.append((name, result.accuracy, trained, 1 / statistics.mean(latencies)))

    if args.json:
        print(json.dumps({"n": len(pairs), "rows": [
            {"router": r[0], "accuracy": round(r[1], 4), "train_s": round(r[2], 2), "routes_per_s": round(r[3], 1)} for r in rows
        ]}, ensure_ascii=False))
        return
    print(f"held-out requests: {len(pairs)} ({args.eval.name}); training examples: {len(examples)}")
    print(f"{'router':<34} {'dept accuracy':>13} {'train s':>8} {'routes/s (one at a time)':>26}")
    for name, accuracy, trained, rate in rows:
        print(f"{name:<34} {accuracy:>12.1%} {trained:>8.2f} {rate:>26.0f}")


if __name__ == "__main__":
    main()
