"""Every key of the app, in one table: the bindings and the help screen come from here.

Each :class:`Key` is one line of the ``?`` help screen and one or more
Textual bindings. Keeping both in one place means the help can never miss
a key (a unit test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

#: What ``shift`` plus a digit types on a US layout, for "solo stem n".
SHIFTED_DIGITS = "!@#$%^&*("


@dataclass(frozen=True)
class Key:
    """One key (or key family) of the app.

    Attributes:
        keys: Textual key names, comma-separated (one binding each).
        action: The action the keys run.
        display: How the help screen (and the footer) writes the key.
        help: What the key does, for the help screen.
        footer: Short label in the footer; empty keeps it out of the footer.
        section: Help-screen section.
    """

    keys: str
    action: str
    display: str
    help: str
    footer: str = ""
    section: str = "Player"


def _digit_keys() -> list[Key]:
    """Bindings 1–9 (mute) and shift+1–9 (solo), shown once in the help."""
    out = []
    for n in range(1, 10):
        out.append(Key(str(n), f"mute({n - 1})", "1–9", "mute / unmute stem n", "mute" if n == 1 else ""))
    for n, sym in enumerate(SHIFTED_DIGITS, start=1):
        out.append(Key(f"{sym},shift+{n}", f"solo({n - 1})", "shift+1–9", "solo / unsolo stem n (! @ # … work too)"))
    return out


PLAYER_KEYS: list[Key] = [
    Key("space", "toggle_play", "space", "play / pause", "play/pause"),
    *_digit_keys(),
    Key("up", "select(-1)", "↑ ↓", "select a stem"),
    Key("down", "select(1)", "↑ ↓", "select a stem"),
    Key("m", "mute_selected", "m", "mute / unmute the selected stem"),
    Key("s", "solo_selected", "s", "solo / unsolo the selected stem", "solo"),
    Key("plus,equals_sign", "volume(1)", "+ / -", "volume of the selected stem ±1 dB (= is +)", "vol"),
    Key("minus", "volume(-1)", "+ / -", "volume of the selected stem ±1 dB (= is +)"),
    Key("0", "reset_mix", "0", "reset the mix: all on, every stem at 0 dB, no ranges"),
    Key("left", "seek(-5)", "←→", "seek 5 s back / forward"),
    Key("right", "seek(5)", "←→", "seek 5 s back / forward"),
    Key("shift+left", "seek(-1)", "shift+←→", "seek 1 s back / forward"),
    Key("shift+right", "seek(1)", "shift+←→", "seek 1 s back / forward"),
    Key("home", "home", "home", "jump to the loop start (or to 0:00)"),
    Key("left_square_bracket", "loop('set_start')", "[", "set the loop start (A) at the playhead", "loop A/B", "Loop"),
    Key("right_square_bracket", "loop('set_end')", "]", "set the loop end (B) there: the loop is on", "", "Loop"),
    Key("l", "loop('toggle')", "l", "loop on / off", "", "Loop"),
    Key("less_than_sign", "loop('nudge', -1)", "< >", "nudge the active loop edge ∓10 ms", "", "Loop"),
    Key("greater_than_sign", "loop('nudge', 1)", "< >", "nudge the active loop edge ∓10 ms", "", "Loop"),
    Key("tab", "loop('switch_edge')", "tab", "switch the edge < > nudge (A or B)", "", "Loop"),
    Key("colon", "loop('type_loop')", ":", "type a loop, e.g. 0:30.250-0:45", "", "Loop"),
    Key("backspace", "loop('clear')", "backspace", "clear the loop", "", "Loop"),
    Key("n", "loop('save')", "n", "save the loop under a name (verse, solo…)", "", "Loop"),
    Key("L", "loop('list_saved')", "L", "saved loops: enter recalls, d deletes", "", "Loop"),
    Key("apostrophe", "loop('next_saved')", "'", "recall the next saved loop", "", "Loop"),
    Key("comma", "practice('tempo', -1)", ", .", "tempo −/+ 5 % (50–150 %), pitch unchanged", "tempo", "Practice"),
    Key("full_stop", "practice('tempo', 1)", ", .", "tempo −/+ 5 % (50–150 %), pitch unchanged", "", "Practice"),
    Key("left_curly_bracket", "practice('transpose', -1)", "{ }", "transpose −/+ 1 semitone (±12)", "", "Practice"),
    Key("right_curly_bracket", "practice('transpose', 1)", "{ }", "transpose −/+ 1 semitone (±12)", "", "Practice"),
    Key("t", "practice('tap')", "t", "tap tempo: tap 3+ times on the beat", "", "Practice"),
    Key("k", "practice('toggle_click')", "k", "metronome click on / off (finds the beat first)", "", "Practice"),
    Key("c", "practice('count_in')", "c", "count-in before play and each loop: off, 4, 2, 1, 8", "", "Practice"),
    Key("M", "practice('range', 'mute')", "M S", "mute / solo the selected stem over the loop only", "", "Practice"),
    Key("S", "practice('range', 'solo')", "M S", "mute / solo the selected stem over the loop only", "", "Practice"),
    Key(
        "T",
        "trainer('toggle')",
        "T",
        "speed trainer on the loop: type START:STEP:EVERY[:END] %, T stops",
        "",
        "Practice",
    ),
    Key("e", "practice('export')", "e", "export the backing track as you hear it", "", "Practice"),
    Key("b,pageup", "map('prev_section')", "b f", "previous / next section (pgup / pgdn too)", "", "Song map"),
    Key("f,pagedown", "map('next_section')", "b f", "previous / next section (pgup / pgdn too)", "", "Song map"),
    Key("A", "map('loop_section')", "A", "loop the current section, saved as A1, B2…", "", "Song map"),
    Key("y", "lyrics('toggle_tap')", "y", "lyrics tap mode: time the lines as they come, y saves", "", "Lyrics"),
    Key(
        "enter",
        "lyrics('stamp')",
        "enter",
        "tap mode: the highlighted line starts now; backspace: back one",
        "",
        "Lyrics",
    ),
    Key("R", "take('record')", "R", "record a take: R or space stops, esc discards", "", "Takes"),
    Key("C", "take('compare')", "C", "compare the selected take (pitch, timing)", "", "Takes"),
    Key("f2", "take('rename')", "F2", "rename the selected take", "", "Takes"),
    Key("x,delete", "take('delete')", "x / del", "delete the selected take (asks first)", "", "Takes"),
    Key("D", "use_fallback('default')", "D", "audio device lost: play on the default device instead"),
    Key("N", "use_fallback('null')", "N", "audio device lost: play on with no sound (null output)"),
    Key("q", "back", "q / esc", "back to the library", "library"),
    Key("escape", "take('escape')", "q / esc", "back to the library"),
]

LIBRARY_KEYS: list[Key] = [
    Key("enter", "open", "enter", "open the highlighted song in the player", "open", "Library"),
    Key("slash", "focus_filter", "/", "filter the list as you type (esc clears)", "filter", "Library"),
    Key("s", "cycle_sort", "s", "next sort column (or click a header)", "sort", "Library"),
    Key("S", "reverse_sort", "S", "reverse the sort order", "", "Library"),
    Key("a", "add", "a", "add stems, or an audio file to separate", "add", "Library"),
    Key("r", "reseparate", "r", "separate again with another model", "re-separate", "Library"),
    Key("d", "delete", "d", "delete the highlighted song (asks first)", "delete", "Library"),
    Key("q", "quit", "q", "quit stemtui", "quit", "Library"),
]

SEPARATION_KEYS: list[Key] = [
    Key("p,enter", "play_now", "p / enter", "play now: the part separated so far", "play now", "Separation"),
    Key("b", "background", "b", "to the library, still separating", "background", "Separation"),
    Key("escape", "cancel", "esc", "cancel the separation: nothing is stored", "cancel", "Separation"),
]

APP_KEYS: list[Key] = [
    Key("question_mark", "help", "?", "this help", "help", "Everywhere"),
    Key("ctrl+p", "command_palette", "ctrl+p", "command palette: search every command", "", "Everywhere"),
    Key("ctrl+q", "quit", "ctrl+q", "quit stemtui", "", "Everywhere"),
]

#: Keys the help screen shows, section by section (the palette and ctrl+q
#: bindings themselves come from Textual). On wide screens the sections
#: named in :data:`HELP_LEFT` make the left column, the others the right one.
HELP_SECTIONS: list[tuple[str, list[Key]]] = [
    ("Player", [k for k in PLAYER_KEYS if k.section == "Player"]),
    ("Loop", [k for k in PLAYER_KEYS if k.section == "Loop"]),
    ("Practice", [k for k in PLAYER_KEYS if k.section == "Practice"]),
    ("Takes", [k for k in PLAYER_KEYS if k.section == "Takes"]),
    ("Song map", [k for k in PLAYER_KEYS if k.section == "Song map"]),
    ("Lyrics", [k for k in PLAYER_KEYS if k.section == "Lyrics"]),
    ("Library", LIBRARY_KEYS),
    ("Separation", SEPARATION_KEYS),
    ("Everywhere", APP_KEYS),
]
HELP_LEFT = ("Player", "Loop")


#: Shorter key names for the footer, where room is tight at 80 columns.
FOOTER_DISPLAY = {"[": "[ ]", "q / esc": "q", "+ / -": "+-", "p / enter": "p"}


def bindings(keys: list[Key]) -> list[Binding]:
    """Textual bindings for a key table; footer labels show, the rest hide."""
    out = []
    for k in keys:
        if k.action == "command_palette":
            continue  # Textual binds the palette itself
        show = bool(k.footer)
        out.append(
            Binding(
                k.keys,
                k.action,
                k.footer or k.help,
                show=show,
                key_display=FOOTER_DISPLAY.get(k.display, k.display.replace(" / ", "/")) if show else None,
                priority=k.keys in ("ctrl+q",),
            )
        )
    return out


def help_rows(keys: list[Key]) -> list[tuple[str, str]]:
    """``(display, help)`` rows without repeats (``←`` and ``→`` are one row)."""
    seen: set[tuple[str, str]] = set()
    rows = []
    for k in keys:
        row = (k.display, k.help)
        if row not in seen:
            seen.add(row)
            rows.append(row)
    return rows
