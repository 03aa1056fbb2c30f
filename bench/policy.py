"""Policy matching at city scale: 1,000,000 enterprises × 500 惠企政策, vectorised against a Python loop.

The vectorised side is the service's own engine (``xingcheng.egov.policy.engine``: rule sets
compiled to numpy column predicates); the baseline is the row-by-row evaluator
(``rules.verdict``, the same decision ``rules.explain`` gives a single enterprise) on a sample,
in the same run. Both decide "qualified" and "near miss" (all but one item pass) for every
(enterprise, policy) pair of the sample, and the script fails if they disagree anywhere.

The enterprises are synthetic but shaped like the demo register: GB/T 4754 industries with the
register's weights, district shares by population, log-normal head counts and revenues, tax
credit ratings, high-tech and export shares, and ~5 % unknown values in the HR/tax facts. The
policies are the demo's 惠企政策 (national, provincial, municipal and district).

    python bench/policy.py [--enterprises 1000000] [--policies 500] [--sample 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from xingcheng.datahub.registries import demo_data
from xingcheng.egov.policy import engine, rules
from xingcheng.egov.policy.demo import policy_rows

GOAL_SECONDS = 10.0


def categorical(rng: np.random.Generator, values: list[str], weights: list[float], size: int) -> engine.Categorical:
    probabilities = np.array(weights, dtype=np.float64) / sum(weights)
    picks = rng.choice(len(values), size=size, p=probabilities)
    categories = sorted(set(values))
    position = {c: i + 1 for i, c in enumerate(categories)}
    codes = np.array([position[v] for v in values], dtype=np.int32)[picks]
    return engine.Categorical(codes, categories)


def _unknown(rng: np.random.Generator, column: npt.NDArray[np.float64], share: float) -> npt.NDArray[np.float64]:
    column[rng.random(column.size) < share] = np.nan
    return column


def synthetic_enterprises(size: int, seed: int = 2026) -> engine.EnterpriseFrame:
    rng = np.random.default_rng(seed)
    industries = [row[0] for row in demo_data.COMPANY_INDUSTRIES] + ["F52", "H62", "O80", "A01"]
    industry_weights = [row[2] for row in demo_data.COMPANY_INDUSTRIES] + [30, 20, 10, 5]
    industry = categorical(rng, industries, industry_weights, size)
    entity_type = categorical(rng, ["company", "individual_business", "cooperative", "social_organisation",
                                    "public_institution"], [38, 55, 3, 3, 1], size)
    company = entity_type.codes == entity_type.code_of("company")
    districts = list(rules.DISTRICT_CODES)
    division = categorical(rng, districts, [demo_data.DISTRICTS[d][1] for d in districts], size)
    status = categorical(rng, ["active", "cancelled", "revoked", "suspended"], [92, 4, 3, 1], size)
    employees = np.where(company, np.rint(rng.lognormal(2.4, 1.3, size)), rng.integers(1, 6, size)).astype(np.float64)
    band_index = np.searchsorted(np.array([10, 100, 300]), employees, side="right")
    bands = ["micro", "small", "medium", "large"]
    band_codes = np.array([sorted(bands).index(b) + 1 for b in bands], dtype=np.int32)  # micro…large → codes
    revenue_band = engine.Categorical(band_codes[band_index], sorted(bands))
    high_tech = company & (rng.random(size) < 0.05)
    revenue_wan = employees * rng.lognormal(3.3, 0.6, size)
    rd_spend_wan = np.where(high_tech, revenue_wan * rng.uniform(0.03, 0.12, size),
                            np.where(company & (rng.random(size) < 0.15), revenue_wan * rng.uniform(0, 0.03, size), 0.0))
    exporter = company & (rng.random(size) < 0.04)
    numbers = {
        "employees": employees,
        "registered_capital_wan": np.round(rng.lognormal(4.5, 1.5, size), 2),
        "age_years": np.round(rng.exponential(6.0, size), 2),
        "rd_spend_wan": np.round(rd_spend_wan, 2),
        "revenue_wan": _unknown(rng, np.round(revenue_wan, 2), 0.05),
        "export_wan": _unknown(rng, np.where(exporter, np.round(revenue_wan * rng.uniform(0.05, 0.6, size), 2), 0.0), 0.05),
        "graduates_hired": _unknown(rng, np.where(company & (rng.random(size) < 0.2),
                                                  rng.integers(1, 12, size), 0).astype(np.float64), 0.05),
        "insured_employees": _unknown(rng, np.floor(employees * rng.uniform(0.6, 1.0, size)), 0.05),
        "layoff_rate_percent": _unknown(rng, np.where(rng.random(size) < 0.6, 0.0,
                                                      np.round(rng.uniform(0, 12, size), 2)), 0.05),
        "invention_patents": _unknown(rng, np.where(high_tech, rng.integers(1, 40, size), 0).astype(np.float64), 0.05),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        numbers["rd_ratio_percent"] = np.where(numbers["revenue_wan"] > 0,
                                               np.round(rd_spend_wan / numbers["revenue_wan"] * 100, 4), np.nan)

    def flag(values: npt.NDArray[np.bool_], unknown_share: float = 0.0) -> npt.NDArray[np.int8]:
        column = values.astype(np.int8)
        column[rng.random(size) < unknown_share] = -1
        return column

    flags = {
        "high_tech": flag(high_tech), "exporter": flag(exporter),
        "specialised_sme": flag(company & (rng.random(size) < np.where(high_tech, 0.25, 0.02)), 0.05),
        "tech_sme": flag(company & (rng.random(size) < np.where(high_tech, 0.7, 0.05)), 0.05),
    }
    categoricals = {
        "industry_code": industry, "entity_type": entity_type, "status": status, "division_code": division,
        "revenue_band": revenue_band,
        "tax_credit_rating": categorical(rng, ["A", "B", "M", "C", "D"], [25, 45, 20, 7, 3], size),
    }
    return engine.EnterpriseFrame([f"E{i:07d}" for i in range(size)], numbers, flags, categoricals)


def run(enterprises: int, policies: int, sample: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    frame = synthetic_enterprises(enterprises, seed)
    generate_seconds = time.perf_counter() - started
    rule_sets = [row["conditions"] for row in policy_rows(random.Random(seed))][:policies]
    sample_index = np.sort(np.random.default_rng(seed + 1).choice(enterprises, size=min(sample, enterprises), replace=False))

    # Vectorised: every policy over every enterprise (what push campaigns and previews run).
    started = time.perf_counter()
    compiled = [engine.compile_rule(rule) for rule in rule_sets]
    qualified_pairs = near_pairs = 0
    vector_sample: list[tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]] = []
    for _index, result in engine.match_all(frame, compiled):
        qualified_pairs += int(np.count_nonzero(result.qualified))
        near_pairs += int(np.count_nonzero(result.near_miss))
        vector_sample.append((result.qualified[sample_index], result.near_miss[sample_index]))
    vector_seconds = time.perf_counter() - started

    # Baseline: a per-enterprise Python loop over the sample.
    rows = [frame.row(int(i)) for i in sample_index]
    started = time.perf_counter()
    loop_results = [[rules.verdict(rule, row) for row in rows] for rule in rule_sets]
    loop_seconds = time.perf_counter() - started

    disagreements = 0
    for (vq, vn), loop in zip(vector_sample, loop_results, strict=True):
        lq = np.array([q for q, _ in loop], dtype=np.bool_)
        ln = np.array([n for _, n in loop], dtype=np.bool_)
        disagreements += int(np.count_nonzero(vq != lq) + np.count_nonzero(vn != ln))
    sample_pairs = len(rows) * len(rule_sets)
    loop_rate = sample_pairs / loop_seconds if loop_seconds else float("inf")
    return {
        "enterprises": enterprises, "policies": len(rule_sets), "sample": len(rows),
        "generate_seconds": round(generate_seconds, 3),
        "vectorised_seconds": round(vector_seconds, 3),
        "vectorised_pairs_per_second": round(enterprises * len(rule_sets) / vector_seconds),
        "loop_seconds": round(loop_seconds, 3),
        "loop_pairs_per_second": round(loop_rate),
        "loop_seconds_extrapolated": round(enterprises * len(rule_sets) / loop_rate, 1),
        "speed_up": round(enterprises * len(rule_sets) / vector_seconds / loop_rate, 1),
        "qualified_pairs": qualified_pairs, "near_miss_pairs": near_pairs,
        "sample_pairs_compared": sample_pairs, "disagreements": disagreements,
        "goal_seconds": GOAL_SECONDS, "meets_goal": vector_seconds < GOAL_SECONDS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--policies", type=int, default=500)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    args = parser.parse_args()
    if args.enterprises < 1 or args.policies < 1 or args.sample < 1:
        print("error: --enterprises, --policies and --sample must be positive", file=sys.stderr)
        return 2
    report = run(args.enterprises, args.policies, args.sample, args.seed)
    if args.json:
        print(json.dumps(report))
    else:
        table = Table(title=f"policy matching: {report['enterprises']:,} enterprises × {report['policies']} policies")
        for column in ("method", "enterprises", "seconds", "pairs / s", "1M × 500 (s)"):
            table.add_column(column, justify="right" if column != "method" else "left")
        table.add_row("vectorised (engine, numpy)", f"{report['enterprises']:,}", f"{report['vectorised_seconds']:.2f}",
                      f"{report['vectorised_pairs_per_second']:,}",
                      f"{report['vectorised_seconds'] * 1e6 / report['enterprises'] * 500 / report['policies']:.1f}")
        table.add_row("Python loop (rules.verdict)", f"{report['sample']:,}", f"{report['loop_seconds']:.2f}",
                      f"{report['loop_pairs_per_second']:,}",
                      f"{report['loop_seconds_extrapolated'] * 1e6 / report['enterprises'] * 500 / report['policies']:.1f}")
        Console().print(table)
        Console().print(
            f"speed-up ×{report['speed_up']}; qualified pairs {report['qualified_pairs']:,}, near misses "
            f"{report['near_miss_pairs']:,}; sample pairs compared {report['sample_pairs_compared']:,}, "
            f"disagreements {report['disagreements']}; goal < {GOAL_SECONDS:.0f} s: "
            f"{'met' if report['meets_goal'] else 'NOT met'}")
    return 1 if report["disagreements"] else 0


if __name__ == "__main__":
    sys.exit(main())
