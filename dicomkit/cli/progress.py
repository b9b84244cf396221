"""A progress display: rich's when the ``rich`` extra is installed and stderr is a terminal, else a plain
line rewritten in place (terminal) or nothing (pipes and logs)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any


class Progress:
    def __init__(self, total: int, description: str, *, enabled: bool = True) -> None:
        self.total = total
        self.description = description
        self.done = 0
        self.nbytes = 0
        self.enabled = enabled and sys.stderr.isatty()
        self._rich: Any = None
        self._task: Any = None
        self._last = 0.0
        self._started = time.perf_counter()

    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        try:
            from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn, TransferSpeedColumn
            from rich.progress import Progress as RichProgress
        except ImportError:
            return self
        self._rich = RichProgress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                  TransferSpeedColumn(), TimeRemainingColumn(), transient=True)
        self._rich.__enter__()
        self._task = self._rich.add_task(self.description, total=self.total)
        return self

    def advance(self, nbytes: int = 0) -> None:
        self.done += 1
        self.nbytes += nbytes
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.update(self._task, advance=1)
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        rate = self.nbytes / 1e6 / max(now - self._started, 1e-9)
        sys.stderr.write(f"\r{self.description}: {self.done}/{self.total}  {rate:.1f} MB/s ")
        sys.stderr.flush()

    def update(self, done: int, total: int | None = None) -> None:
        """Set the count (and the total, when it becomes known): for progress reported by a peer."""
        if total is not None and total != self.total:
            self.total = total
            if self._rich is not None:
                self._rich.update(self._task, total=total)
        step = done - self.done
        if step > 0:
            self.done = done - 1
            if self._rich is not None:
                self.done = done
                self._rich.update(self._task, completed=done)
            else:
                self.advance()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.__exit__(exc_type, exc, tb)
        elif self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
