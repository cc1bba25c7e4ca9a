"""Output devices as PortAudio lists them: listing and resolving ``--device``.

Importing sounddevice loads PortAudio; a missing library becomes
:class:`~stemtui.core.errors.NoOutputDevice`, one line.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from stemtui.core.errors import BadInput, NoOutputDevice

__all__ = ["OutputDevice", "find_again", "list_output_devices", "rescan", "resolve_device", "sounddevice_module"]


@dataclass(frozen=True)
class OutputDevice:
    """An output device as PortAudio lists it."""

    index: int
    name: str
    hostapi: str
    channels: int
    default_samplerate: float
    is_default: bool


def sounddevice_module():
    """Import sounddevice, turning a missing PortAudio into NoOutputDevice."""
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library not found
        raise NoOutputDevice(f"no audio output: {exc} (install libportaudio2)") from None
    return sd


def list_output_devices() -> list[OutputDevice]:
    """All devices with output channels.

    Raises:
        NoOutputDevice: If PortAudio is missing.
    """
    sd = sounddevice_module()
    try:
        default_out = sd.default.device[1]
        apis = sd.query_hostapis()
        devices = sd.query_devices()
    except Exception as exc:  # noqa: BLE001 - PortAudio errors are plain exceptions
        raise NoOutputDevice(f"no audio output: {exc}") from None
    out = []
    for i, d in enumerate(devices):
        if d["max_output_channels"] > 0:
            out.append(
                OutputDevice(
                    index=i,
                    name=d["name"],
                    hostapi=apis[d["hostapi"]]["name"],
                    channels=d["max_output_channels"],
                    default_samplerate=float(d["default_samplerate"]),
                    is_default=i == default_out,
                )
            )
    return out


def resolve_device(spec: str | int | None) -> OutputDevice:
    """Find an output device by index, exact name, or name substring.

    Args:
        spec: ``None`` for the default device.

    Raises:
        NoOutputDevice: If there is no output device at all.
        BadInput: If ``spec`` matches no device, or several.
    """
    devices = list_output_devices()
    if not devices:
        raise NoOutputDevice("no audio output device found")
    if spec is None or spec == "":
        for d in devices:
            if d.is_default:
                return d
        return devices[0]
    text = str(spec)
    if text.isdigit():
        for d in devices:
            if d.index == int(text):
                return d
        raise BadInput(f"--device {text}", "no output device with that index (see `stemtui devices`)")
    exact = [d for d in devices if d.name.lower() == text.lower()]
    if exact:
        return exact[0]
    found = [d for d in devices if text.lower() in d.name.lower()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise BadInput(f"--device {text}", "no output device by that name (see `stemtui devices`)")
    names = ", ".join(f"{d.index}: {d.name}" for d in found)
    raise BadInput(f"--device {text}", f"matches several devices ({names}); use the index")


def rescan(open_streams: int) -> bool:
    """Make PortAudio list the devices afresh (it enumerates them only when initialised).

    Terminating PortAudio closes every stream it has open, so this is done
    only when ``open_streams`` (what the caller holds open) is 0 and this
    process initialised PortAudio once (sounddevice's import). Returns
    whether the list was re-read; never raises.
    """
    sd = sys.modules.get("sounddevice")
    if sd is None or open_streams or getattr(sd, "_initialized", 0) != 1:
        return False
    try:
        sd._terminate()
        sd._initialize()
    except Exception:  # noqa: BLE001 - PortAudio errors are plain exceptions
        if getattr(sd, "_initialized", 0) == 0:
            try:
                sd._initialize()  # never leave sounddevice without PortAudio
            except Exception:  # noqa: BLE001 - as above: the next reopen reports it
                pass
        return False
    return True


def find_again(name: str, index: int) -> int:
    """The index of the output device called ``name`` now (indices move when devices come and go).

    Falls back to ``index`` when no device has that name (or the list cannot be read).
    """
    try:
        devices = list_output_devices()
    except NoOutputDevice:
        return index
    same = [d.index for d in devices if d.name == name]
    if not same:
        return index
    return index if index in same else same[0]
