"""`stemtui separate`: a queue of files through Demucs into the store.

Before each separation it says how long it should take (an estimate) and
how much disk it needs, and refuses a file whose stems would not fit in the
cache (exit 1, one line, nothing written). A worker that dies (killed, out
of memory) is one line, exit 1, with nothing stored: running the command
again retries.
"""

from __future__ import annotations

import json
import sys

from stemtui.commands.common import (
    _progress_line,
    describe_progress,
    separation_options,
)
from stemtui.commands.lyrics_cmd import adopt_lyrics


def cmd_separate(args, settings) -> int:
    """Separate each file in turn; a bad file is reported and the queue goes on."""
    from dataclasses import asdict

    from stemtui.core.errors import StemtuiError
    from stemtui.core.library.safeio import check_input_file
    from stemtui.core.separation.budget import check_disk, describe
    from stemtui.core.separation.job import SeparationJob
    from stemtui.core.separation.splitter import SeparationCancelled
    from stemtui.core.separation.task import SeparationWorkerDied

    opts = separation_options(args)
    store = settings.store()
    worst = 0
    for i, path in enumerate(args.files):
        label = f"[{i + 1}/{len(args.files)}] " if len(args.files) > 1 else ""

        def emit(p, path=path, label=label):
            if args.json:
                print(json.dumps({"event": "progress", "file": path, **asdict(p)}), flush=True)
            else:
                _progress_line(f"{label}{describe_progress(p)}")

        job = None
        try:
            # Before anything reads it (a FIFO would hang the hash); the job
            # itself explains a folder.
            check_input_file(path, allow_dir=True)
            job = SeparationJob(store, path, opts, on_progress=emit)
            hit = job.lookup()
            if hit is None:
                budget = job.budget()
                # A disk too small is refused in one line (it names what is needed) before the plan is told.
                check_disk(path, budget, store.tmp_dir)
                if args.json:
                    print(json.dumps({"event": "plan", "file": path, **asdict(budget)}), flush=True)
                else:
                    _progress_line(f"{label}{path}: {describe(budget)}", final=True)
                if not args.json:
                    _progress_line(f"{label}{path}: loading {opts.model} …")
                job.start()
                hit = job.finish()
                status = "separated"
            else:
                status = "cached"
            adopt_lyrics(settings, hit, path)  # song.lrc beside song.mp3
            if args.json:
                print(
                    json.dumps(
                        {
                            "event": "done",
                            "file": path,
                            "status": status,
                            "id": hit.id,
                            "stems": hit.stems,
                            "path": str(hit.path),
                        }
                    ),
                    flush=True,
                )
            else:
                _progress_line(
                    f"{label}{status}: {hit.id[:8]}  {hit.title}  ({', '.join(hit.stems)})  → {hit.path}", final=True
                )
        except SeparationCancelled:
            _progress_line(f"{label}{path}: cancelled, nothing stored", final=True)
            return 130
        except KeyboardInterrupt:
            if job is not None:
                job.discard()
            _progress_line(f"{label}{path}: cancelled, nothing stored", final=True)
            return 130
        except StemtuiError as exc:
            if job is not None:
                job.discard()
            if sys.stderr.isatty():
                sys.stderr.write("\r\x1b[2K")
            message = str(exc)
            if isinstance(exc, SeparationWorkerDied):
                message = f"{path}: {exc.user_message}; run the command again to retry"
            if args.json:
                print(json.dumps({"event": "error", "file": path, "message": message}), flush=True)
            print(f"stemtui: {message}", file=sys.stderr)
            worst = max(worst, exc.exit_code)
    return worst
