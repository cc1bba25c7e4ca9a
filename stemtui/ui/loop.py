"""Loop editing as the player's keys see it, on top of the mixer's A–B loop.

The mixer only knows a whole loop ``(start, end, enabled)``. A musician sets
the edges one at a time, at the playhead: ``[`` for A, ``]`` for B. The
:class:`LoopEditor` remembers a lone edge until its partner arrives (the
timeline shows it), and hands the mixer a loop as soon as both are there.

Rules, all in frames:

* Setting both edges enables the loop.
* Setting an edge on the wrong side of the other (A at or after B, B at or
  before A) starts a new loop: the other edge is forgotten.
* ``<``/``>`` nudge the *active* edge (the one set last; ``tab`` switches)
  by :data:`NUDGE_MS`, keeping the loop on or off as it was.
* A loop recalled from the saved ones (:meth:`LoopEditor.recall`) carries its
  name until an edge moves: then it is a new, unnamed loop.

No Textual here: the player screen turns results and errors into what the
musician sees.
"""

from __future__ import annotations

from stemtui.core.audio.mixer import Mixer
from stemtui.core.errors import BadInput
from stemtui.core.timefmt import format_time

#: One press of ``<`` or ``>`` moves the active loop edge this much.
NUDGE_MS = 10.0


class LoopEditor:
    """Edits the loop of one mixer.

    Args:
        mixer: The mixer whose loop this edits; an existing loop is picked up.
    """

    def __init__(self, mixer: Mixer) -> None:
        self.mixer = mixer
        start, end, _ = mixer.loop
        #: Loop start in frames, or ``None`` when not set.
        self.a: int | None = start if end > 0 else None
        #: Loop end in frames, or ``None`` when not set.
        self.b: int | None = end if end > 0 else None
        #: The edge ``<``/``>`` move: ``"a"`` or ``"b"``.
        self.edge = "b"
        #: The saved loop's name while the loop is exactly that one, else ``None``.
        self.name: str | None = None

    # -- state -----------------------------------------------------------------
    @property
    def sr(self) -> int:
        """Frames per second."""
        return self.mixer.sample_rate

    @property
    def complete(self) -> bool:
        """Whether both edges are set (so the mixer has the loop)."""
        return self.a is not None and self.b is not None

    @property
    def enabled(self) -> bool:
        """Whether the mixer is looping."""
        return bool(self.mixer.loop[2])

    def seconds(self) -> tuple[float | None, float | None]:
        """The edges in seconds (``None`` where unset)."""
        sr = self.sr
        return (None if self.a is None else self.a / sr, None if self.b is None else self.b / sr)

    def describe(self) -> str:
        """One line for notifications, e.g. ``loop 0:08.000–0:16.000 on`` or ``verse 0:30.000–0:45.000 on``."""
        a, b = self.seconds()
        fa = "…" if a is None else format_time(a, 3)
        fb = "…" if b is None else format_time(b, 3)
        if not self.complete:
            return f"loop {fa}–{fb} (needs {'a start: [' if a is None else 'an end: ]'})"
        return f"{self.name or 'loop'} {fa}–{fb} {'on' if self.enabled else 'off'}"

    def label(self) -> str:
        """The named loop as ``verse 0:30.000–0:45.000``; empty when the loop has no name."""
        a, b = self.seconds()
        if self.name is None or a is None or b is None:
            return ""
        return f"{self.name} {format_time(a, 3)}–{format_time(b, 3)}"

    def _min_len(self) -> int:
        # The mixer refuses loops shorter than two crossfades.
        return self.mixer.min_loop_frames

    def _push(self, enabled: bool) -> None:
        """Give the mixer the loop (both edges known) or clear it (one missing)."""
        if self.a is None or self.b is None:
            self.mixer.clear_loop()
            return
        self.mixer.set_loop(self.a, self.b, enabled)

    # -- edits ---------------------------------------------------------------------
    def set_start(self, frame: int) -> None:
        """Set A at ``frame``; with B after it the loop is on."""
        frame = self._clamp(frame)
        if self.b is not None and self.b - frame < self._min_len():
            self.b = None
        self.a, self.edge, self.name = frame, "a", None
        self._push(True)

    def set_end(self, frame: int) -> None:
        """Set B at ``frame``; with A before it the loop is on."""
        frame = self._clamp(frame)
        if frame <= 0:
            raise BadInput("loop end", "cannot end a loop at the very start")
        if self.a is not None and frame - self.a < self._min_len():
            self.a = None
        self.b, self.edge, self.name = frame, "b", None
        self._push(True)

    def set_seconds(self, start: float, end: float) -> None:
        """Set a whole loop in seconds (the end is clamped to the song); turns it on.

        Raises:
            BadInput: If the loop starts at or after the end of the song.
        """
        frames = self.mixer.song.frames
        a = round(start * self.sr)
        b = min(round(end * self.sr), frames)
        if a >= frames:
            raise BadInput(
                f"loop {format_time(start, 3)}", f"starts after the song ends ({format_time(frames / self.sr, 3)})"
            )
        if b - a < self._min_len():
            raise BadInput(f"loop {format_time(start, 3)}–{format_time(end, 3)}", "too short")
        self.a, self.b, self.edge, self.name = a, b, "b", None
        self._push(True)

    def recall(self, name: str, start: float, end: float) -> None:
        """Make the saved loop ``name`` the loop, and turn it on (raises like :meth:`set_seconds`)."""
        self.set_seconds(start, end)
        self.name = name

    def toggle(self) -> bool:
        """Turn a complete loop on or off; returns the new state.

        Raises:
            BadInput: If no complete loop is set.
        """
        if not self.complete:
            raise BadInput("loop", "set a loop first: [ at its start, ] at its end (or : to type one)")
        self.mixer.enable_loop(not self.enabled)
        return self.enabled

    def clear(self) -> None:
        """Forget both edges."""
        self.a = self.b = self.name = None
        self.mixer.clear_loop()

    def switch_edge(self) -> str:
        """Make the other edge the one ``<``/``>`` move; returns ``"a"`` or ``"b"``."""
        self.edge = "a" if self.edge == "b" else "b"
        return self.edge

    def nudge(self, ms: float) -> None:
        """Move the active edge by ``ms`` milliseconds (negative: earlier).

        Raises:
            BadInput: If that edge is not set, or the move would empty the loop.
        """
        current = self.a if self.edge == "a" else self.b
        if current is None:
            name = "start" if self.edge == "a" else "end"
            raise BadInput(f"loop {name}", f"not set yet (press {'[' if self.edge == 'a' else ']'} first)")
        frame = self._clamp(current + round(ms * self.sr / 1000.0))
        a, b = (frame, self.b) if self.edge == "a" else (self.a, frame)
        if a is not None and b is not None and b - a < self._min_len():
            raise BadInput("loop", "the start must stay before the end")
        enabled = self.enabled
        self.a, self.b, self.name = a, b, None
        self._push(enabled)

    # -- playhead --------------------------------------------------------------------
    def outside(self, frame: int) -> bool:
        """Whether an enabled loop exists and ``frame`` is not inside it."""
        if not (self.complete and self.enabled):
            return False
        assert self.a is not None and self.b is not None
        return not (self.a <= frame < self.b)

    def home(self) -> int:
        """Where ``home`` jumps: the loop start if set, else the top of the song."""
        return self.a if self.a is not None else 0

    def _clamp(self, frame: int) -> int:
        return min(max(int(frame), 0), self.mixer.song.frames)
