"""The one extension point: each scenario package declares a ``Module``; the app, the CLI,
the demo and the console iterate the declared modules and never name a package themselves."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy.orm import Session

    from xingcheng.core.events import Delivery

Scale = Literal["small", "city"]

# The console's left navigation, in this order (zh-CN labels are what a clerk reads).
NAV_SECTIONS: dict[str, str] = {
    "datahub": "数据中台",
    "iot": "物联感知",
    "egov": "政务服务",
    "governance": "城市治理",
    "society": "民生服务",
    "economy": "产业经济",
    "system": "系统管理",
}


@dataclass
class DemoContext:
    """What a demo step gets besides the session: the seed, the scale and a progress callback."""

    seed: int
    scale: Scale
    progress: Callable[[str, int, int], None] = lambda _label, _done, _total: None
    facts: dict[str, Any] = field(default_factory=dict)

    def rng(self, step: str) -> random.Random:
        # One stream per step: adding a step never shifts another step's data.
        return random.Random(f"{self.seed}:{step}")


@dataclass(frozen=True)
class DemoStep:
    name: str
    run: Callable[[Session, DemoContext], None]
    depends_on: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class NavEntry:
    section: str  # a key of NAV_SECTIONS
    label: str  # zh-CN
    path: str  # a UI path, /console/...
    icon: str = "chevron_right"
    permission: str = "console:use"


@dataclass(frozen=True)
class CockpitCard:
    key: str
    title: str  # zh-CN
    compute: Callable[[Session], float | int | str]
    unit: str = ""
    order: int = 100


@dataclass(frozen=True)
class EventSubscription:
    pattern: str  # MQTT topic filter, e.g. xc/events/iot/+
    handler: Callable[[Delivery], None]


@dataclass(frozen=True)
class Module:
    """Everything one scenario package contributes to the platform."""

    name: str
    router: APIRouter | None = None  # mounted behind login
    public_router: APIRouter | None = None  # mounted without login (declare why in the package)
    cli: typer.Typer | None = None
    cli_name: str | None = None
    demo_steps: Sequence[DemoStep] = ()
    nav: Sequence[NavEntry] = ()
    cockpit_cards: Sequence[CockpitCard] = ()
    subscriptions: Sequence[EventSubscription] = ()
    pages: Callable[[], None] | None = None  # registers NiceGUI pages, called once at start-up
    # Process-lifetime resources the serving process owns (e.g. the embedded observation store).
    on_startup: Callable[[], object] | None = None
    on_shutdown: Callable[[], None] | None = None


def order_demo_steps(modules: Sequence[Module]) -> list[DemoStep]:
    """All demo steps, each after the steps it depends on (stable by declaration order)."""
    steps = {step.name: step for module in modules for step in module.demo_steps}
    ordered: list[DemoStep] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"demo steps depend on each other in a cycle: {' → '.join((*chain, name))}")
        if name not in steps:
            raise ValueError(f"demo step '{chain[-1]}' depends on '{name}', which no module declares")
        state[name] = "visiting"
        for dependency in steps[name].depends_on:
            visit(dependency, (*chain, name))
        state[name] = "done"
        ordered.append(steps[name])

    for name in steps:
        visit(name, ())
    return ordered
