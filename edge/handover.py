"""Handing the service's address from one installed version to the next without a gap.

The new version binds the same address with SO_REUSEPORT (same user) only after its self-test and
steers new connections to itself with a one-instruction cBPF program; the old one, sent SIGTERM,
stops accepting, gives connections accepted an instant before a moment to send their request, and
finishes what it has (:func:`draining_server`). install.sh drives the sequence; see
edgepack.edge.service's module doc and the README's "Upgrades" section.
"""

from __future__ import annotations

import asyncio
import socket
import struct


def raise_fd_limit() -> None:
    """systemd starts services with a soft limit of 1024 descriptors; a flood of connections past
    that makes accept() fail (and asyncio stop accepting for a second, probes included). Connections
    over max_connections are answered and closed, but each needs a descriptor meanwhile."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):  # not POSIX, or not allowed: keep the limit we have
        pass


# cBPF "return 1": steer every new connection of the SO_REUSEPORT group to the socket at index 1,
# the one bound second -- the new version while the old one (index 0) drains. An index past the
# group's end (after the old one closed, the group is [new]) makes the kernel fall back to its hash.
_SO_ATTACH_REUSEPORT_CBPF = 51
_BPF_RET_K = 0x06


def _steer_to_second(sock: socket.socket) -> bool:
    import ctypes

    prog = ctypes.create_string_buffer(struct.pack("HBBI", _BPF_RET_K, 0, 0, 1))
    fprog = struct.pack("HL", 1, ctypes.addressof(prog))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_REUSEPORT_CBPF, fprog)
        return True
    except OSError:  # not Linux, or emulated without it: the kernel hashes connections over both
        return False


def listen_beside(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening socket on (host, port) that shares the address with the version already serving
    (SO_REUSEPORT; same user) and takes its new connections: see the module doc."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        _steer_to_second(sock)  # after listen(): attached before, it makes a group of its own
    except OSError as exc:
        sock.close()
        raise SystemExit(f"edgepack-service: cannot listen on {host}:{port} ({exc.strerror or exc}); the process "
                         "serving there must be an edgepack service started with --bind-when-ready (same user)")
    sock.set_inheritable(False)
    return sock


def _draining_server_class():
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """On SIGTERM (an upgrade stopping this version): stop accepting, then give connections
        already accepted a moment to send their request before uvicorn closes the idle ones -- one
        accepted an instant before the stop would otherwise be closed unanswered (seen as single
        connection resets in the kill-anywhere test)."""

        async def shutdown(self, sockets=None):
            for server in self.servers:
                server.close()
            await asyncio.sleep(DRAIN_GRACE_S)
            await super().shutdown(sockets)

    return DrainingServer


DRAIN_GRACE_S = 0.3


def draining_server(config):
    """A uvicorn.Server that drains as above (uvicorn is imported only here: /healthz starts fast)."""
    return _draining_server_class()(config)
