"""``edgepack serve DIR``: a static server for a web bundle, standard library only.

What a plain ``python -m http.server`` lacks and this adds: ``application/wasm`` and
``text/javascript`` for ``.mjs``; COOP ``same-origin`` + COEP ``require-corp`` (cross-origin
isolation, so onnxruntime-web may use threads); a strict CSP; the bundle's pre-compressed ``.br`` /
``.gz`` copies when the client accepts them (and only when they are not older than the file, so a
replaced file is never shadowed by a stale copy); no hidden files; localhost by default.

    from edgepack.web.serve import make_server, serve
    serve("dist/sentiment-wasm")                       # blocks; Ctrl-C stops
    server = make_server("dist/sentiment-wasm", port=0) # for tests: server.server_address[1]
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

from edgepack.errors import ArtifactError, TargetError
from edgepack.web.host_config import MIME_TYPES, SECURITY_HEADERS

# Accept-Encoding token -> (suffix of the pre-compressed copy, Content-Encoding). Brotli first: smaller.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def _accepted(header: str | None) -> set[str]:
    """Codings the client accepts (q > 0), from an Accept-Encoding header."""
    accepted = set()
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            key, _, value = p.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name and q > 0:
            accepted.add(name.strip().lower())
    return accepted


class BundleRequestHandler(SimpleHTTPRequestHandler):
    """Serves one directory with the bundle's headers. ``isolate=False`` omits COOP/COEP."""

    server_version = "edgepack-serve"
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    isolate = True
    quiet = False

    def end_headers(self):
        for key, value in SECURITY_HEADERS.items():
            if not self.isolate and key.startswith("Cross-Origin-"):
                continue
            self.send_header(key, value)
        # Revalidate every time: a rebuilt bundle must never mix old and new files.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def guess_type(self, path):
        return MIME_TYPES.get(Path(str(path)).suffix.lower()) or super().guess_type(path)

    def send_head(self):
        parts = [p for p in self.path.split("?", 1)[0].split("#", 1)[0].split("/") if p]
        if any(p.startswith(".") for p in parts):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            if not self.path.split("?", 1)[0].endswith("/"):
                return super().send_head()  # the parent class redirects to the slash form
            path = os.path.join(path, "index.html")
        if os.path.isfile(path):
            accepted = _accepted(self.headers.get("Accept-Encoding"))
            for coding, suffix in ENCODINGS:
                copy = path + suffix
                if coding in accepted and os.path.isfile(copy) and os.path.getmtime(copy) >= os.path.getmtime(path):
                    return self._send_file(copy, self.guess_type(path), coding)
        return super().send_head()

    def _send_file(self, path, ctype, coding):
        f = open(path, "rb")
        try:
            size = os.fstat(f.fileno()).st_size
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Encoding", coding)
            self.send_header("Content-Length", str(size))
            self.send_header("Vary", "Accept-Encoding")
            self.end_headers()
            return f
        except BaseException:
            f.close()
            raise

    def log_message(self, format, *args):
        if not self.quiet:
            super().log_message(format, *args)


def make_server(
    directory: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    isolate: bool = True,
    quiet: bool = False,
) -> ThreadingHTTPServer:
    """A ready (not yet serving) server for ``directory``; ``port=0`` picks a free port.

    ``isolate=False`` drops COOP/COEP, to see how the bundle behaves behind a plain host.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ArtifactError(f"{root}: not a directory; build a bundle first (`edgepack build PROJECT --target wasm`)")
    if not (root / "index.html").is_file():
        raise ArtifactError(f"{root}: no index.html here; pass the bundle directory (dist/<name>-wasm)")
    handler = type("Handler", (BundleRequestHandler,), {"isolate": isolate, "quiet": quiet})
    try:
        server = ThreadingHTTPServer((host, port), partial(handler, directory=str(root.resolve())))
    except OSError as exc:
        raise TargetError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port or --host") from None
    server.daemon_threads = True
    return server


@contextmanager
def running(directory: str | os.PathLike, *, isolate: bool = True) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port from a background thread; yields the base URL."""
    with in_background(make_server(directory, port=0, isolate=isolate, quiet=True)) as url:
        yield url


@contextmanager
def in_background(server) -> Iterator[str]:
    """Run an HTTP ``server`` bound to 127.0.0.1 in a daemon thread; yields its base URL and shuts it
    down after (also for servers with other handlers, e.g. scripts/compare_transformersjs.py's)."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def serve(
    directory: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    isolate: bool = True,
    quiet: bool = False,
    ready: threading.Event | None = None,
) -> None:
    """Serve ``directory`` until interrupted (Ctrl-C). Prints the URL on stderr."""
    server = make_server(directory, host, port, isolate=isolate, quiet=quiet)
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"serving {Path(directory).resolve()} at http://{shown}:{bound_port}/ (Ctrl-C stops)", file=sys.stderr)
    if ready is not None:
        ready.set()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Serve an edgepack web bundle with COOP/COEP/CSP headers.")
    parser.add_argument("directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        serve(args.directory, args.host, args.port)
    except (ArtifactError, TargetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
