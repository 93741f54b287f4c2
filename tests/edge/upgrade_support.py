"""Plain helpers shared by the upgrade tests (test_upgrade_kill.py, test_upgrade_switch.py,
test_upgrade_systemd.py): a prober that asks the service for its version every few ms."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Prober:
    """GET /healthz on the service's address every few ms, from a thread: (time, ok, version id)."""

    port: int
    interval: float = 0.005
    rows: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _once(self):
        t = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: device\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError as exc:
            return t, type(exc).__name__, None
        vid = next((line.split(b":", 1)[1].strip().decode() for line in data.split(b"\r\n")
                    if line.lower().startswith(b"x-edgepack-version-id:")), None)
        return t, "ok" if data.startswith(b"HTTP/1.1 200 ") else "bad answer", vid

    def _run(self):
        while not self._stop.is_set():
            self.rows.append(self._once())
            time.sleep(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(30)

    def since(self, t0: float) -> list:
        return [r for r in list(self.rows) if r[0] >= t0]

    @staticmethod
    def failures(rows) -> list:
        return [r for r in rows if r[1] != "ok"]

    @staticmethod
    def longest_silence(rows) -> float:
        """Longest time between two answered probes (a refused probe does not answer)."""
        times = [r[0] for r in rows if r[1] == "ok"]
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)
