#!/usr/bin/env python3
"""The floor of any Python C-STORE sender: ``storescu``, ``dicomkit store`` and a minimal raw-socket sender.

The minimal sender (``--raw HOST PORT DIR``, run by this script as its own process with ``python -S``) imports
nothing but the standard library's ``os``, ``socket`` and ``struct``, checks nothing, and does only what the
protocol needs: one association with one presentation context, then for each file a C-STORE-RQ command and
the file's data set as P-DATA-TF PDUs, and the wait for its C-STORE-RSP (PS3.7 9.1.1: without an
asynchronous operations window, one operation is outstanding at a time), then the release. Whatever a real
sender adds (reading arguments, scanning the folder, the checks of issue 9, negotiation of every class) it
cannot go below this. All three send 1000 × 42 KB (bench/data/store/small, made by bench/store.py) into one
``storescp --ignore`` with TCP_NODELAY, in alternating rounds; whole commands, medians.

Usage: python bench/send_floor.py [--rounds 9]
"""

from __future__ import annotations

import os
import socket
import struct
import sys

# the sender itself: nothing above this line but the standard library, nothing imported below it
IMPLICIT_LE = "1.2.840.10008.1.2"


def _uid_bytes(uid: str) -> bytes:
    raw = uid.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _meta(data: bytes) -> tuple[int, dict[int, str]]:
    """Data set offset and the UI values of the File Meta Information (Explicit VR Little Endian)."""
    pos = 132
    values: dict[int, str] = {}
    while pos + 8 <= len(data):
        group, element = struct.unpack_from("<HH", data, pos)
        if group != 2:
            break
        vr = data[pos + 4:pos + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC", b"UR"):
            length = struct.unpack_from("<I", data, pos + 8)[0]
            start = pos + 12
        else:
            length = struct.unpack_from("<H", data, pos + 6)[0]
            start = pos + 8
        if vr == b"UI":
            values[element] = data[start:start + length].rstrip(b"\x00 ").decode("ascii")
        pos = start + length
    return pos, values


def _element(tag: int, value: bytes) -> bytes:
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def _command(sop_class: str, sop_instance: str, message_id: int) -> bytes:
    """C-STORE-RQ (PS3.7 9.3.1.1), Implicit VR Little Endian."""
    body = (_element(0x00000002, _uid_bytes(sop_class)) + _element(0x00000100, struct.pack("<H", 0x0001))
            + _element(0x00000110, struct.pack("<H", message_id)) + _element(0x00000700, struct.pack("<H", 0))
            + _element(0x00000800, struct.pack("<H", 0x0000)) + _element(0x00001000, _uid_bytes(sop_instance)))
    return _element(0x00000000, struct.pack("<I", len(body))) + body


def _item(kind: int, body: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(body)) + body


def _associate_rq(called: str, sop_class: str, transfer_syntax: str) -> bytes:
    """A-ASSOCIATE-RQ (PS3.8 9.3.2) with one presentation context."""
    context = struct.pack(">BBBB", 1, 0, 0, 0) + _item(0x30, sop_class.encode()) + _item(0x40, transfer_syntax.encode())
    user = _item(0x51, struct.pack(">I", 65536)) + _item(0x52, b"1.2.826.0.1.3680043.10.1.99")
    body = (struct.pack(">HH", 1, 0) + called.encode().ljust(16) + b"FLOOR".ljust(16) + bytes(32)
            + _item(0x10, b"1.2.840.10008.3.1.1.1") + _item(0x20, context) + _item(0x50, user))
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def _read_pdu(sock: socket.socket) -> tuple[int, bytes]:
    head = _read_exactly(sock, 6)
    kind, _, length = struct.unpack(">BBI", head)
    return kind, _read_exactly(sock, length)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _peer_max_pdu(ac: bytes) -> int:
    pos = 68  # after the fixed fields of the A-ASSOCIATE-AC
    while pos + 4 <= len(ac):
        kind, _, length = struct.unpack_from(">BBH", ac, pos)
        if kind == 0x50:
            sub = pos + 4
            while sub + 4 <= pos + 4 + length:
                sub_kind, _, sub_length = struct.unpack_from(">BBH", ac, sub)
                if sub_kind == 0x51:
                    return int(struct.unpack_from(">I", ac, sub + 4)[0]) or 1 << 20
                sub += 4 + sub_length
        pos += 4 + length
    return 16384


def _pdata(control: int, fragment: bytes | memoryview) -> list[bytes | memoryview]:
    return [struct.pack(">BBIIBB", 0x04, 0, len(fragment) + 6, len(fragment) + 2, 1, control), fragment]


def raw_send(host: str, port: int, folder: str) -> int:
    names = sorted(os.listdir(folder))
    first = open(os.path.join(folder, names[0]), "rb").read()  # noqa: SIM115
    _, meta = _meta(first)
    sop_class, transfer_syntax = meta[0x0002], meta[0x0010]
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(_associate_rq("ANY-SCP", sop_class, transfer_syntax))
    kind, ac = _read_pdu(sock)
    if kind != 0x02 or ac[68 + 4 + len(b"1.2.840.10008.3.1.1.1") + 4 + 2] != 0:
        raise SystemExit("association not accepted")
    room = min(_peer_max_pdu(ac), 1 << 20) - 6
    for message_id, name in enumerate(names, 1):
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        offset, meta = _meta(data)
        parts = _pdata(0x03, _command(meta[0x0002], meta[0x0003], message_id))
        view = memoryview(data)[offset:]
        for start in range(0, len(view), room):
            fragment = view[start:start + room]
            parts += _pdata(0x02 if start + room >= len(view) else 0x00, fragment)
        sock.sendmsg(parts)
        kind, _ = _read_pdu(sock)  # the C-STORE-RSP (its status is not looked at)
        if kind != 0x04:
            raise SystemExit(f"PDU type {kind} instead of a C-STORE-RSP")
    sock.sendall(struct.pack(">BBII", 0x05, 0, 4, 0))
    _read_pdu(sock)
    sock.close()
    return len(names)


def main() -> int:
    import argparse
    import shutil
    import statistics
    import subprocess
    import tempfile
    import time
    from pathlib import Path

    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    files = here / "data" / "store" / "small"
    if not files.is_dir():
        print(f"no {files}: run bench/store.py once first", file=sys.stderr)
        return 1
    dicomkit = Path(sys.executable).with_name("dicomkit")
    if shutil.which("storescu") is None or shutil.which("storescp") is None or not dicomkit.exists():
        print("needs DCMTK's storescu/storescp and dicomkit installed next to this Python", file=sys.stderr)
        return 1
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    dcmtk_env = {**env, "TCP_NODELAY": "1"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    out = Path(tempfile.mkdtemp(prefix="send-floor-"))
    scp = subprocess.Popen(["storescp", "-od", str(out), "--ignore", str(port)], env=dcmtk_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    commands = {
        "storescu": (["storescu", "-aec", "ANY-SCP", "127.0.0.1", str(port), "+sd", str(files)], dcmtk_env),
        "dicomkit store": ([str(dicomkit), "store", "--aec", "ANY-SCP", "--no-progress", "127.0.0.1", str(port),
                            str(files)], env),
        "raw Python sender": ([sys.executable, "-S", str(Path(__file__).resolve()), "--raw", "127.0.0.1", str(port),
                               str(files)], env),
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        for command, command_env in commands.values():  # warm the page cache and the bytecode
            subprocess.run(command, env=command_env, check=True, capture_output=True)
        for _ in range(args.rounds):
            for name, (command, command_env) in commands.items():
                started = time.perf_counter()
                subprocess.run(command, env=command_env, check=True, capture_output=True)
                times[name].append(time.perf_counter() - started)
    finally:
        scp.terminate()
        scp.wait()
        shutil.rmtree(out, ignore_errors=True)
    base = statistics.median(times["storescu"])
    print(f"{len(os.listdir(files))} files into storescp --ignore, whole commands, median of {args.rounds}:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:18} {median:6.3f} s  (min {min(values):.3f})  storescu / this: {base / median:.2f}x")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--raw":
        raw_send(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(main())
