"""A throw-away PostgreSQL cluster for the archive tests (and for .ci/run).

``DICOMKIT_TEST_POSTGRES`` (a URL) names a server to use. Without it, when PostgreSQL's binaries exist
(``/usr/lib/postgresql/*/bin``, Debian's package ``postgresql``), :func:`start_cluster` makes a cluster in a
temporary folder — owned by the ``postgres`` user when we are root, since ``initdb`` refuses root — and
starts it on a free loopback port; :func:`stop_cluster` stops it and removes the folder.

As a script (what ``.ci/run`` does)::

    python3 tests/server/postgres.py start DIR    # prints the URL; the cluster lives in DIR
    python3 tests/server/postgres.py stop DIR
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = "DICOMKIT_TEST_POSTGRES"


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(args: list[str], owner: str | None) -> list[str]:
    if owner is None:
        return args
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", owner, "--", *args]
    return ["su", owner, "-s", "/bin/sh", "-c", " ".join(f"'{a}'" for a in args)]


def _owner() -> str | None:
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root and there is no postgres user to own the cluster") from None
    return "postgres"


def start_cluster(folder: Path | None = None) -> tuple[str, Path]:
    """(URL, folder) of a new running cluster; RuntimeError saying why when none can be had."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries (/usr/lib/postgresql/*/bin; Debian package postgresql)")
    owner = _owner()
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="dicomkit-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir(exist_ok=True)
    if owner is not None:
        import pwd

        entry = pwd.getpwnam(owner)
        for path in (folder, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        folder.chmod(0o700)
    run = {"capture_output": True, "text": True, "timeout": 120}
    result = subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                       "--no-sync", "-E", "UTF8", "--locale=C"], owner), **run)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=200"
    result = subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-o",
                                       options, "-w", "-t", "60", "start"], owner), **run)  # type: ignore[call-overload]
    if result.returncode != 0:
        log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {result.stderr.strip()} {log[-500:]}")
    (folder / "port").write_text(str(port))
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", folder


def stop_cluster(folder: Path) -> None:
    bin_dir = binaries()
    data = Path(folder) / "data"
    if bin_dir is not None and data.exists():
        subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                                 _owner()), capture_output=True, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)


def restart_cluster(folder: Path) -> None:
    """Restart a cluster made by :func:`start_cluster` (the database going away for a while)."""
    bin_dir = binaries()
    assert bin_dir is not None
    port = (Path(folder) / "port").read_text().strip()
    options = f"-p {port} -k {Path(folder) / 'sockets'} -c listen_addresses=127.0.0.1 -c max_connections=200"
    # -l: the restarted server's output goes to the log (on our pipe, it would keep run() waiting for its end)
    subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(Path(folder) / "data"), "-l",
                              str(Path(folder) / "log"), "-m", "fast", "-o", options, "-w", "-t", "60", "restart"],
                             _owner()),
                   capture_output=True, timeout=120, check=True)


def wait_ready(url: str, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    action, where = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        url, _ = start_cluster(where)
        print(url)
    elif action == "stop":
        stop_cluster(where)
    else:
        sys.exit(f"usage: {sys.argv[0]} start|stop DIR")
