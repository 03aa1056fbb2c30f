"""Signal-controller adapters: how an approved plan reaches the field.

The platform speaks one small interface (``SignalController``); each controller family gets an
adapter. ``TraciController`` drives SUMO through TraCI or libsumo (the simulator is the controller
in the demo and in ``traffic evaluate``); ``RecordingController`` keeps what it was sent (for
intersections with no live link, and tests). An NTCIP 1202 or GB/T 20999 adapter implements the
same three methods over its protocol — see the traffic section of ``docs/conventions.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from xingcheng.governance.traffic.signals import Phase


@dataclass(frozen=True)
class PlanCommand:
    """What a controller is told: phase durations in order, the cycle offset, when it takes effect."""

    intersection: str
    phases: Sequence[Phase]
    offset_s: float
    version: int
    at_s: float  # controller clock (seconds since its reference), for offsets


class SignalController(Protocol):
    kind: str

    def current_phases(self, intersection: str) -> list[Phase]:
        """The plan the controller runs now (for import and for checking an upload)."""
        ...

    def apply(self, command: PlanCommand) -> None:
        """Install the plan and align its cycle to ``offset_s`` (raise on refusal)."""
        ...

    def health(self, intersection: str) -> str:
        """``ok`` | ``offline`` | ``fault`` (degraded controllers keep their local plan)."""
        ...


class TraciController:
    """SUMO as the controller: ``traci`` (socket) or ``libsumo`` (in-process), same API."""

    kind = "sumo"

    def __init__(self, api: Any, program_id: str = "xc") -> None:
        self.api = api
        self.program_id = program_id
        self._base: dict[str, Any] = {}

    def _base_logic(self, intersection: str) -> Any:
        if intersection not in self._base:
            logics = self.api.trafficlight.getAllProgramLogics(intersection)
            active = self.api.trafficlight.getProgram(intersection)
            self._base[intersection] = next((logic for logic in logics if logic.programID == active), logics[0])
        return self._base[intersection]

    def current_phases(self, intersection: str) -> list[Phase]:
        return [Phase(phase.state, float(phase.duration)) for phase in self._base_logic(intersection).phases]

    def apply(self, command: PlanCommand) -> None:
        base = self._base_logic(command.intersection)
        if len(base.phases) != len(command.phases):
            raise ValueError(f"{command.intersection}: plan has {len(command.phases)} phases, controller {len(base.phases)}")
        trafficlight = self.api.trafficlight
        durations = [float(phase.duration) for phase in command.phases]
        phases = [trafficlight.Phase(duration, phase.state, duration, duration)
                  for phase, duration in zip(command.phases, durations, strict=True)]
        cycle = sum(durations)
        position = (command.at_s - command.offset_s) % cycle
        index, clock = 0, 0.0
        for index, duration in enumerate(durations):  # noqa: B007
            if clock + duration > position:
                break
            clock += duration
        trafficlight.setProgramLogic(command.intersection, trafficlight.Logic(self.program_id, 0, index, phases))
        trafficlight.setProgram(command.intersection, self.program_id)
        trafficlight.setPhase(command.intersection, index)
        trafficlight.setPhaseDuration(command.intersection, max(1.0, clock + durations[index] - position))

    def health(self, intersection: str) -> str:
        return "ok" if intersection in self.api.trafficlight.getIDList() else "offline"


@dataclass
class RecordingController:
    """Keeps every command (intersections without a live controller link; tests)."""

    kind: str = "recording"
    sent: list[PlanCommand] = field(default_factory=list)
    plans: dict[str, list[Phase]] = field(default_factory=dict)

    def current_phases(self, intersection: str) -> list[Phase]:
        return list(self.plans.get(intersection, []))

    def apply(self, command: PlanCommand) -> None:
        self.sent.append(command)
        self.plans[command.intersection] = list(command.phases)

    def health(self, intersection: str) -> str:
        return "ok"


_RECORDER = RecordingController()
# Controller kind (``Intersection.controller``) -> adapter factory. A deployment registers its
# field adapters here at start-up (e.g. ``ADAPTERS["gbt20999"] = lambda: Gbt20999Controller(...)``).
ADAPTERS: dict[str, Callable[[], SignalController]] = {
    "sumo": lambda: _RECORDER,  # no simulator attached to the server: record; evaluate uses TraciController
    "recording": lambda: _RECORDER,
}


def adapter_for(kind: str) -> SignalController:
    factory = ADAPTERS.get(kind)
    if factory is None:
        raise LookupError(f"no signal controller adapter registered for '{kind}'")
    return factory()
