"""The speed trainer's plan: a loop that starts slow and speeds up pass by pass (pure).

A spec ``START:STEP:EVERY[:END]`` (``70:5:2:100``) plays the loop at START,
then STEP faster every EVERY passes, up to END, which is played EVERY times
too: ``70:5:2:100`` is 7 tempos × 2 = 14 passes. ``--passes N`` stops after N
passes instead (the last tempo repeats if N is more). Tempos are percent, or
factors when a value is at most 2 (``0.7:0.05:2:1.0``); END defaults to 100 %.

The live side is :mod:`stemtui.core.tempo.trainplay` (the next pass rendered
ahead, switched at the wrap by the mixer), the export side
:mod:`stemtui.core.library.trainsession`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stemtui.core.errors import BadInput
from stemtui.core.tempo.stretch import TEMPO_MAX, TEMPO_MIN

USAGE = "expected START:STEP:EVERY[:END] in percent, e.g. 70:5:2:100 (or factors: 0.7:0.05:2:1.0)"


@dataclass(frozen=True)
class TrainerSpec:
    """A validated trainer plan; tempos are factors (1.0 = the song's tempo).

    Attributes:
        start: The first pass's tempo.
        step: How much faster each step is.
        every: Passes per tempo.
        end: The last tempo (reached, never passed).
        passes: Stop after this many passes (``None``: when END was played EVERY times).
    """

    start: float
    step: float
    every: int
    end: float
    passes: int | None = None

    @property
    def tempos(self) -> tuple[float, ...]:
        """Every tempo of the plan in order, the last one ``end``."""
        out = []
        k = 0
        while True:
            t = round(self.start + k * self.step, 6)
            if t >= self.end - 1e-9:
                break
            out.append(t)
            k += 1
        out.append(self.end)
        return tuple(out)

    @property
    def total(self) -> int:
        """How many passes the session has."""
        return self.passes if self.passes is not None else len(self.tempos) * self.every

    def step_at(self, pass_no: int) -> int:
        """The index into :attr:`tempos` of pass ``pass_no`` (1-based) on schedule."""
        return min((max(1, pass_no) - 1) // self.every, len(self.tempos) - 1)

    def tempo_at(self, pass_no: int) -> float:
        """The tempo of pass ``pass_no`` (1-based) on schedule."""
        return self.tempos[self.step_at(pass_no)]

    def schedule(self) -> list[float]:
        """The tempo of each of the :attr:`total` passes."""
        return [self.tempo_at(p) for p in range(1, self.total + 1)]

    def label(self) -> str:
        """The spec as typed, in percent: ``70:5:2:100``."""
        return ":".join([pct(self.start), pct(self.step), str(self.every), pct(self.end)])


def pct(f: float) -> str:
    """A factor as a short percent figure: ``0.7`` → ``70``, ``0.725`` → ``72.5``."""
    return f"{f * 100:.2f}".rstrip("0").rstrip(".")


def status_line(pass_no: int, total: int, tempo: float) -> str:
    """What the player shows: ``pass 3/12 · 80 %`` (no total past the end of the plan)."""
    where = f"{pass_no}/{total}" if pass_no <= total else f"{pass_no}"
    return f"pass {where} · {pct(tempo)} %"


def _factor(value: float) -> float:
    return value if value <= 2.0 else value / 100.0


def parse_trainer(text: str, passes: int | None = None, what: str = "--trainer") -> TrainerSpec:
    """Parse and check ``START:STEP:EVERY[:END]`` (and ``--passes N``).

    Raises:
        BadInput: Naming the input and the reason: malformed, START above
            END, a step of 0 or less, EVERY below 1, a tempo outside
            50–150 %, or fewer than 1 pass.
    """
    name = f"{what} {text}"
    parts = [p.strip() for p in str(text).split(":")]
    if len(parts) not in (3, 4) or not all(parts):
        raise BadInput(name, USAGE)
    try:
        start, step = float(parts[0]), float(parts[1])
        every_f = float(parts[2])
        end = float(parts[3]) if len(parts) == 4 else 100.0
    except ValueError:
        raise BadInput(name, USAGE) from None
    if not all(math.isfinite(v) for v in (start, step, every_f, end)):
        raise BadInput(name, USAGE)
    if every_f != int(every_f) or every_f < 1:
        raise BadInput(name, f"EVERY must be a whole number of passes, at least 1 (got {parts[2]})")
    start_f = _factor(start)
    # The step is in START's unit: 70:5 means 5 %, 0.7:0.05 means 0.05.
    step_f = step if start <= 2.0 else step / 100.0
    end_f = _factor(end)
    lo, hi = f"{TEMPO_MIN * 100:.0f}", f"{TEMPO_MAX * 100:.0f}"
    for label, v in (("START", start_f), ("END", end_f)):
        if not TEMPO_MIN - 1e-9 <= v <= TEMPO_MAX + 1e-9:
            raise BadInput(name, f"{label} {pct(v)} % is outside the allowed {lo}–{hi} %")
    if step_f <= 0:
        raise BadInput(name, f"STEP must be above 0 (got {parts[1]})")
    if start_f > end_f + 1e-9:
        raise BadInput(name, f"START {pct(start_f)} % is above END {pct(end_f)} %")
    if passes is not None and passes < 1:
        raise BadInput(f"--passes {passes}", "must be at least 1")
    return TrainerSpec(round(start_f, 6), round(step_f, 6), int(every_f), round(end_f, 6), passes)
