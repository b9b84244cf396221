"""Options shared by the network commands: AE titles, timeouts, TLS."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl

from ..net import tls


def add_tls_arguments(p: argparse.ArgumentParser, *, server: bool) -> None:
    g = p.add_argument_group("TLS (PS3.15 B.9 profiles)")
    if server:
        g.add_argument("--tls-cert", metavar="PEM", help="our certificate (turns TLS on)")
        g.add_argument("--tls-key", metavar="PEM", help="its private key (if not in --tls-cert)")
        g.add_argument("--tls-ca", metavar="PEM", help="CA certificates that sign accepted client certificates")
        g.add_argument("--tls-optional-client-cert", action="store_true",
                       help="with --tls-ca: accept clients without a certificate")
    else:
        g.add_argument("--tls", action="store_true", help="use TLS")
        g.add_argument("--tls-ca", metavar="PEM", help="CA certificates to verify the server (default: system)")
        g.add_argument("--tls-cert", metavar="PEM", help="our client certificate")
        g.add_argument("--tls-key", metavar="PEM", help="its private key")
        g.add_argument("--tls-no-verify", action="store_true", help="do not verify the server certificate")
        g.add_argument("--tls-check-hostname", action="store_true", help="check the server name in its certificate")
    g.add_argument("--tls-profile", choices=tls.PROFILES, default="bcp195-nd",
                   help="TLS profile (default: %(default)s)")


def tls_context(args: argparse.Namespace, *, server: bool) -> ssl.SSLContext | None:
    if server:
        if not args.tls_cert:
            return None
        return tls.server_context(args.tls_cert, args.tls_key, ca=args.tls_ca,
                                  require_client_cert=not args.tls_optional_client_cert, profile=args.tls_profile)
    if not (args.tls or args.tls_ca or args.tls_cert):
        return None
    return tls.client_context(ca=args.tls_ca, cert=args.tls_cert, key=args.tls_key,
                              check_hostname=args.tls_check_hostname, verify=not args.tls_no_verify,
                              profile=args.tls_profile)


def add_peer_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", help="peer host name or address")
    p.add_argument("port", type=int, help="peer TCP port")
    p.add_argument("--aet", default="DICOMKIT", help="our AE title (default: %(default)s)")
    p.add_argument("--aec", default="ANY-SCP", help="the peer's AE title (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="connect/association/response timeout in seconds (default: %(default)s)")
    p.add_argument("--max-pdu", type=int, default=262144, metavar="N",
                   help="largest PDU we receive, 0 = no limit (default: %(default)s)")


async def until_stopped() -> None:
    """Return on SIGINT or SIGTERM (the listening commands' main loop: receive, print-scp)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
