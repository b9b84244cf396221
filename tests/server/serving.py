"""``dicomkit serve`` as a real process, for tests that treat it as a peer does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..peers import free_port, wait_listening


class Serve:
    def __init__(self, data_dir: Path, *, database: str = "", extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.http_port = free_port()
        self.log = log or data_dir.parent / f"serve-{self.port}.log"
        args = [sys.executable, "-m", "dicomkit.cli.main", "serve", "--data-dir", str(data_dir), "--dicom-port",
                str(self.port), "--http-port", str(self.http_port), *extra]
        if database:
            args += ["--database", database]
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Serve:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._out = open(self.log, "ab")  # noqa: SIM115 - kept open for the life of the process
        self.proc = subprocess.Popen(self.args, stdout=self._out, stderr=subprocess.STDOUT, env=self.env)
        wait_listening(self.port, timeout=60, proc=None)
        if "--no-http" not in self.args:
            wait_listening(self.http_port, timeout=60, proc=None)
        wait_for(lambda: "dicomkit serve: data" in self.output(), what="the start-up lines")
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._out.close()
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)
        self._out.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if not self._out.closed:
            self._out.close()


@contextmanager
def serving(data_dir: Path, **options: object) -> Iterator[Serve]:
    s = Serve(data_dir, **options)  # type: ignore[arg-type]
    s.start()
    try:
        yield s
    finally:
        s.stop()


def wait_for(condition: object, timeout: float = 60.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)
