"""Quality reports: measure a registry or a catalogue dataset, keep every report, compare with labels.

Metrics (each a share in [0, 1], higher is better):

* completeness / validity / consistency — 1 − failed ÷ checked, over the dimension's rules;
* uniqueness — 1 − duplicate records ÷ records; timeliness — 1 − stale records ÷ records;
* accuracy — records with no validity or consistency defect ÷ records (claims excluded);
* score — the mean of the five dimensions.

A report stores its per-rule summary and every failing record (up to ``DETAILS_KEPT`` per rule), so
the console can list defects and ``detection`` can measure precision and recall against the
generator's labels (``quality_defect_label``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Invalid, NotFound
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.catalog.models import Dataset, DatasetBatch
from xingcheng.datahub.catalog.service import current_fields
from xingcheng.datahub.catalog.storage import arrow_schema, default_store
from xingcheng.datahub.quality.models import DefectLabel, QualityDefect, QualityReport
from xingcheng.datahub.quality.rules import DETAILS_KEPT, DIMENSIONS, RuleResult, dataset_rules, legal_entity_rules, person_rules

REGISTRY_SUBJECTS = {"registry:person": person_rules, "registry:legal_entity": legal_entity_rules}
RATIO_DIMENSIONS = ("completeness", "validity", "consistency")
TARGET = 0.98  # the city's target for completeness and accuracy (> 98%)


def _share(failed: int, checked: int) -> float:
    return 1.0 if checked == 0 else round(1 - failed / checked, 6)


def metrics(records: int, rules: Sequence[RuleResult]) -> dict[str, float]:
    out: dict[str, float] = {}
    for dimension in RATIO_DIMENSIONS:
        chosen = [r for r in rules if r.dimension == dimension]
        out[dimension] = _share(sum(len(r.failed) for r in chosen), sum(r.checked for r in chosen))
    for dimension in ("uniqueness", "timeliness"):
        refs = {ref for r in rules if r.dimension == dimension for ref, _ in r.failed}
        checked = records if records else max((r.checked for r in rules if r.dimension == dimension), default=0)
        out[dimension] = _share(len(refs), checked)
    wrong = {ref for r in rules if r.dimension in ("validity", "consistency") for ref, _ in r.failed
             if not ref.startswith("claim:")}
    out["accuracy"] = _share(len(wrong), records)
    out["score"] = round(sum(out[d] for d in DIMENSIONS) / len(DIMENSIONS), 6)
    return out


def _store(session: Session, *, subject: str, kind: str, records: int, rules: Sequence[RuleResult],
           actor: Principal | str, measured_at: datetime) -> QualityReport:
    report = QualityReport(
        subject=subject, kind=kind, measured_at=measured_at, records=records, metrics=metrics(records, rules),
        rules={r.rule: r.summary() for r in rules}, defects=sum(len(r.failed) for r in rules),
        measured_by=actor.name[:64] if isinstance(actor, Principal) else actor[:64],
    )
    session.add(report)
    session.flush()
    rows = [{"report_id": report.id, "rule": r.rule, "record_ref": ref, "field": r.field, "detail": detail}
            for r in rules for ref, detail in r.failed[:DETAILS_KEPT]]
    table = QualityDefect.__table__
    assert isinstance(table, Table)
    for start in range(0, len(rows), 5000):
        session.execute(insert(table), rows[start:start + 5000])
    audit.record(session, actor=actor, action="quality.report.run", subject=subject,
                 details={"report_id": report.id, "records": records, "defects": report.defects, **report.metrics})
    return report


def measure_registry(session: Session, subject: str, *, actor: Principal | str,
                     measured_at: datetime | None = None) -> QualityReport:
    if subject not in REGISTRY_SUBJECTS:
        raise NotFound(f"no registry {subject!r}; expected one of {', '.join(REGISTRY_SUBJECTS)}")
    measured_at = measured_at or utcnow()
    records, rules = REGISTRY_SUBJECTS[subject](session, measured_at)
    return _store(session, subject=subject, kind="registry", records=records, rules=rules, actor=actor,
                  measured_at=measured_at)


def measure_dataset(session: Session, dataset: Dataset, *, actor: Principal | str,
                    measured_at: datetime | None = None) -> QualityReport:
    """Read the dataset's current version (an internal job: only aggregates and row numbers leave it)."""
    measured_at = measured_at or utcnow()
    fields = current_fields(session, dataset)
    parts = session.execute(
        select(DatasetBatch.part, DatasetBatch.rows_accepted)
        .where(DatasetBatch.dataset_id == dataset.id, DatasetBatch.schema_version == dataset.schema_version,
               DatasetBatch.part.is_not(None)).order_by(DatasetBatch.id)
    ).all()
    total = sum(int(n) for _p, n in parts)
    table = default_store().read([(str(p), int(n)) for p, n in parts], arrow_schema(fields), offset=0, limit=max(total, 1))
    rules = dataset_rules(table, fields, last_update=dataset.last_row_update, frequency=dataset.update_frequency,
                          measured_at=measured_at)
    return _store(session, subject=f"dataset:{dataset.slug}", kind="dataset", records=table.num_rows, rules=rules,
                  actor=actor, measured_at=measured_at)


def run(session: Session, *, actor: Principal | str, subjects: Sequence[str] | None = None,
        datasets: bool = True, dataset_limit: int | None = None) -> list[QualityReport]:
    """Measure the named subjects, or both registries and (``datasets``) every dataset holding rows."""
    reports: list[QualityReport] = []
    wanted = list(subjects) if subjects else list(REGISTRY_SUBJECTS)
    for subject in wanted:
        if subject.startswith("dataset:"):
            slug = subject.removeprefix("dataset:")
            dataset = session.scalar(select(Dataset).where(Dataset.slug == slug))
            if dataset is None:
                raise NotFound(f"no dataset {slug!r}")
            reports.append(measure_dataset(session, dataset, actor=actor))
        elif subject in REGISTRY_SUBJECTS:
            reports.append(measure_registry(session, subject, actor=actor))
        else:
            raise Invalid(f"unknown subject {subject!r}: use registry:person, registry:legal_entity or dataset:<owner>/<name>")
    if datasets and not subjects:
        statement = select(Dataset).where(Dataset.row_count > 0).order_by(Dataset.slug)
        if dataset_limit is not None:
            statement = statement.limit(dataset_limit)
        for dataset in session.scalars(statement):
            reports.append(measure_dataset(session, dataset, actor=actor))
    return reports


# ---- reading reports -----------------------------------------------------------------------------------

def latest_reports(session: Session, *, kind: str | None = None) -> list[QualityReport]:
    newest = select(QualityReport.subject, func.max(QualityReport.id).label("id")).group_by(QualityReport.subject)
    if kind:
        newest = newest.where(QualityReport.kind == kind)
    ids = select(newest.subquery().c.id)
    return list(session.scalars(select(QualityReport).where(QualityReport.id.in_(ids)).order_by(QualityReport.subject)))


def latest_report(session: Session, subject: str) -> QualityReport | None:
    return session.scalar(select(QualityReport).where(QualityReport.subject == subject)
                          .order_by(QualityReport.id.desc()).limit(1))


def history(session: Session, subject: str, *, limit: int = 50) -> list[QualityReport]:
    return list(session.scalars(select(QualityReport).where(QualityReport.subject == subject)
                                .order_by(QualityReport.id.desc()).limit(limit)))


def get_report_or_raise(session: Session, report_id: int) -> QualityReport:
    report = session.get(QualityReport, report_id)
    if report is None:
        raise NotFound(f"no quality report #{report_id}")
    return report


def defects(session: Session, *, report_id: int, page: PageParams, rule: str | None = None) -> tuple[list[QualityDefect], int]:
    statement: Select[QualityDefect] = select(QualityDefect).where(QualityDefect.report_id == report_id)
    if rule:
        statement = statement.where(QualityDefect.rule == rule)
    return paginate(session, statement.order_by(QualityDefect.id), page)


def prune(session: Session, *, keep: int = 100) -> int:
    """Drop the defect lists of all but each subject's newest ``keep`` reports (their numbers stay)."""
    removed = 0
    for subject in session.scalars(select(QualityReport.subject).distinct()):
        old = select(QualityReport.id).where(QualityReport.subject == subject).order_by(QualityReport.id.desc()).offset(keep)
        removed += session.execute(delete(QualityDefect).where(QualityDefect.report_id.in_(old))).rowcount or 0  # type: ignore[attr-defined]
    return removed


# ---- detection against labels -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Detection:
    subject: str
    rule: str
    labelled: int
    detected: int
    true_positives: int

    @property
    def precision(self) -> float:
        return 1.0 if self.detected == 0 else self.true_positives / self.detected

    @property
    def recall(self) -> float:
        return 1.0 if self.labelled == 0 else self.true_positives / self.labelled

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "rule": self.rule, "labelled": self.labelled, "detected": self.detected,
                "true_positives": self.true_positives, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4)}


def detection(session: Session) -> dict[str, Any]:
    """Precision and recall of the newest reports' defects against the labelled injected defects.

    Only subjects that have labels count; a defect the report finds in a labelled subject that no
    label names is a false positive, a label the report does not find a false negative.
    """
    labels: dict[str, set[tuple[str, str]]] = {}
    for subject, rule, ref in session.execute(select(DefectLabel.subject, DefectLabel.rule, DefectLabel.record_ref)):
        labels.setdefault(subject, set()).add((rule, ref))
    rows: list[Detection] = []
    total_tp = total_found = total_labelled = 0
    for subject, truth in sorted(labels.items()):
        report = latest_report(session, subject)
        found: set[tuple[str, str]] = set()
        if report is not None:
            found = {(rule, ref) for rule, ref in session.execute(
                select(QualityDefect.rule, QualityDefect.record_ref).where(QualityDefect.report_id == report.id))}
        for rule in sorted({r for r, _ in truth} | {r for r, _ in found}):
            t = {x for x in truth if x[0] == rule}
            f = {x for x in found if x[0] == rule}
            rows.append(Detection(subject, rule, len(t), len(f), len(t & f)))
        total_tp += len(truth & found)
        total_found += len(found)
        total_labelled += len(truth)
    overall = Detection("*", "*", total_labelled, total_found, total_tp)
    return {"precision": round(overall.precision, 4), "recall": round(overall.recall, 4),
            "labelled": total_labelled, "detected": total_found, "true_positives": total_tp,
            "by_rule": [r.as_dict() for r in rows]}


def summary(session: Session) -> dict[str, Any]:
    """Newest figures per registry and the dataset averages, plus detection — what the CLI prints."""
    registries = {r.subject: {"report_id": r.id, "measured_at": r.measured_at.isoformat(), "records": r.records,
                              "defects": r.defects, **r.metrics} for r in latest_reports(session, kind="registry")}
    datasets = latest_reports(session, kind="dataset")
    average: dict[str, float] = {}
    if datasets:
        for name in (*DIMENSIONS, "accuracy", "score"):
            average[name] = round(sum(float(d.metrics.get(name, 1.0)) for d in datasets) / len(datasets), 6)
    return {"target": TARGET, "registries": registries,
            "datasets": {"measured": len(datasets), "average": average,
                         "below_target": sorted(d.subject for d in datasets
                                                if min(d.metrics["completeness"], d.metrics["accuracy"]) <= TARGET)},
            "detection": detection(session)}
