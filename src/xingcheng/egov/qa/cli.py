"""``xingcheng qa ...``: ask the finder from the command line and measure it on labelled questions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import func, select

from xingcheng.core.db import get_database
from xingcheng.core.migrate import upgrade
from xingcheng.egov.qa import service
from xingcheng.egov.qa.schemas import AskRequest
from xingcheng.egov.services.models import ServiceItem

console = Console(stderr=True)
cli = typer.Typer(help="智能问答 / 智能导引: the service finder.", no_args_is_help=True)


def _bundle() -> service.IndexBundle:
    """The city as ``make run`` loads it: the database's catalogue, implementation lists and FAQ;
    a data directory without a city yet gets the shipped catalogue and FAQ seed."""
    database = get_database()
    upgrade(database.engine)
    with database.session_scope() as session:
        if session.scalar(select(func.count()).select_from(ServiceItem)):
            return service.get_index(session)
    console.print("[yellow]no city loaded in this data directory: answering from the shipped catalogue[/]")
    return service.bundle_from_package()


def read_labelled(path: Path) -> list[dict[str, str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"line {number} is not JSON: {exc.msg}", param_hint="FILE") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not isinstance(row.get("item_code"), str):
            raise typer.BadParameter(f'line {number} needs string fields "question" and "item_code"', param_hint="FILE")
        rows.append({"question": row["question"], "item_code": row["item_code"]})
    if not rows:
        raise typer.BadParameter("the file holds no questions", param_hint="FILE")
    return rows


@cli.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="The question in everyday Chinese, e.g. 退休了公积金怎么取")],
    limit: Annotated[int, typer.Option(min=1, max=10, help="Answers to show.")] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="Print the answer as one JSON object.")] = False,
) -> None:
    """Answer one question with the best-matching service items and their guide facts."""
    try:
        AskRequest(question=question, limit=limit)
    except ValidationError as exc:
        raise typer.BadParameter(exc.errors()[0]["msg"], param_hint="QUESTION") from None
    result = service.answer(_bundle(), question, limit=limit)
    if json_output:
        print(json.dumps(result, ensure_ascii=False, default=str))
        return
    _print_answer(result)


def _print_answer(result: dict[str, Any]) -> None:
    out = Console()
    if not result["answers"]:
        out.print("没有找到相关事项，请换个说法试试，或拨打12345政务服务便民热线。")
        return
    if result["understood"]:
        out.print("理解为：" + "，".join(f"{u['said']}→{u['understood_as']}" for u in result["understood"]))
    if result["clarification"]:
        clarification = result["clarification"]
        out.print(f"[bold]{clarification['question']}[/] " + " / ".join(o["label"] for o in clarification["options"]))
    for rank, item in enumerate(result["answers"], start=1):
        out.print(f"[bold]{rank}. {item['name']}[/] ({item['item_code']}, 得分 {item['score']:.1f}) {item['explanation']}")
        where = item["where"]
        place = f"{where['office_name']} {where['service_window']}" if where else "见办事指南"
        out.print(f"   {item['department_name']} · {'可全程网办' if item['online'] else '需到现场'} · {item['visits_label']} · "
                  f"{item['time_limit_label']} · 办理地点：{place}")
        if item["materials"]:
            out.print("   材料：" + "；".join(item["materials"]))
    if result["follow_ups"]:
        out.print(f"您可能还需要（{result['life_event']}）：" + "、".join(f["name"] for f in result["follow_ups"]))
    if not result["answered"]:
        out.print("[yellow]把握不大：以上为相近事项，可换个说法或联系12345。[/]")


@cli.command("eval")
def eval_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help='JSON lines: {"question": ..., "item_code": ...}')],
    json_output: Annotated[bool, typer.Option("--json", help='Print only {"n", "top1", "top3", "mrr"}.')] = False,
    misses: Annotated[bool, typer.Option("--misses", help="Also list the questions not answered first.")] = False,
) -> None:
    """Top-1 and top-3 accuracy and MRR on labelled questions (by item code, any district's entry)."""
    rows = read_labelled(file)
    report = service.evaluate(_bundle(), rows)
    if json_output:
        print(json.dumps({"n": report.n, "top1": report.top1, "top3": report.top3, "mrr": report.mrr}))
        return
    out = Console()
    out.print(f"n={report.n}  top-1={report.top1:.2%}  top-3={report.top3:.2%}  MRR={report.mrr:.4f}")
    if misses:
        for miss in report.misses:
            out.print(f"  rank {miss['rank'] or '-'}: {miss['question']} → expected {miss['expected']}, got {miss['got']}")
