"""Progress of a long pull or run on a terminal, and silence everywhere else.

A pull of a big day takes minutes: on a terminal a person wants to see that it moves (files,
bytes, lines per second, time left). Under cron or a pipe the same output would only fill mail
and log files, so a :class:`Progress` draws only when its stream is a terminal, and only once
the job has taken longer than ``delay`` seconds (a quick pull prints nothing). One line is
redrawn in place, at most every ``interval`` seconds, and ended with a newline when done.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO


def on_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (not cron, a pipe, a file or a dumb TERM)."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


class Progress:
    """``label: files 3/12, 1.2 GB of 4.0 GB, 812k lines/s, 0:41 left`` on a terminal."""

    def __init__(
        self,
        label: str,
        files: int,
        total_bytes: int,
        stream: TextIO | None = None,
        delay: float | None = None,
        interval: float = 0.5,
    ) -> None:
        self.label, self.files, self.total_bytes = label, files, max(total_bytes, 0)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = on_terminal(self.stream)
        # OPSREVIEW_PROGRESS_DELAY: seconds before anything shows (default 2)
        self.delay = delay if delay is not None else float(os.environ.get("OPSREVIEW_PROGRESS_DELAY", "2"))
        self.interval = interval
        self.started = time.monotonic()
        self.done_files = self.done_bytes = self.lines = 0
        self._drawn = 0.0

    def advance(self, files: int = 0, nbytes: int = 0, lines: int = 0) -> None:
        self.done_files += files
        self.done_bytes += nbytes
        self.lines += lines
        now = time.monotonic()
        if self.enabled and now - self.started >= self.delay and now - self._drawn >= self.interval:
            self._draw(now)

    def text(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        parts = [f"files {self.done_files}/{self.files}"]
        if self.total_bytes:
            parts.append(f"{_size(self.done_bytes)} of {_size(self.total_bytes)}")
        if self.lines:
            parts.append(f"{self.lines / elapsed / 1000:,.0f}k lines/s")
        if self.total_bytes and self.done_bytes:
            left = elapsed * (self.total_bytes - self.done_bytes) / self.done_bytes
            parts.append(f"{_duration(left)} left")
        return f"{self.label}: " + ", ".join(parts)

    def _draw(self, now: float) -> None:
        self._drawn = now
        self.stream.write("\r" + self.text(now) + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        """End the line (only if something was drawn)."""
        if self._drawn:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0.0


def announce(message: str, stream: TextIO | None = None) -> None:
    """One line on a terminal (e.g. a notebook that ended), nothing elsewhere."""
    stream = stream if stream is not None else sys.stderr
    if on_terminal(stream):
        stream.write(message + "\n")
        stream.flush()
