"""Turn exceptions in UI handlers into notifications, never tracebacks."""

from __future__ import annotations

import functools
import logging

from stemtui.core.errors import StemtuiError

log = logging.getLogger("stemtui.ui")


def guarded(fn):
    """Decorate a handler or action: a :class:`StemtuiError` becomes a warning
    notification with its one-line message; anything else is logged with its
    traceback and shown as a one-line error."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except StemtuiError as exc:
            self.notify(str(exc), severity="warning")
        except Exception as exc:
            log.exception("error in %s", fn.__qualname__)
            self.notify(
                f"{fn.__name__.removeprefix('action_')}: {type(exc).__name__}: {exc}", severity="error", timeout=10
            )
        return None

    return wrapper
