"""The HTTP headers a bundle needs, in one table, written out for common static hosts.

``edgepack serve`` sends them itself; :func:`write_host_files` writes the same table as
``_headers`` (Netlify, Cloudflare Pages), ``vercel.json``, ``staticwebapp.config.json`` (Azure),
``.htaccess`` (Apache) and ``nginx.conf`` (a snippet to include). Hosts that cannot set headers
(e.g. GitHub Pages) still work: the page runs single-threaded and says why.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

# script-src: 'wasm-unsafe-eval' allows compiling WebAssembly and nothing else (no eval()).
# worker-src 'self': onnxruntime-web starts its pthread workers from ort-wasm-simd-threaded.mjs on
# the same origin (it only falls back to blob: URLs for cross-origin scripts, which we never have).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

# COOP + COEP make the page cross-origin isolated: SharedArrayBuffer, hence wasm threads.
SECURITY_HEADERS = MappingProxyType(
    {
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Embedder-Policy": "require-corp",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
)

MIME_TYPES = MappingProxyType(
    {
        ".html": "text/html; charset=utf-8",
        ".mjs": "text/javascript; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".json": "application/json",
        ".wasm": "application/wasm",
        ".onnx": "application/octet-stream",
        ".svg": "image/svg+xml",
        ".png": "image/png",
        ".txt": "text/plain; charset=utf-8",
        ".zip": "application/zip",
    }
)

HOST_FILES = ("_headers", "vercel.json", "staticwebapp.config.json", ".htaccess", "nginx.conf")


def _netlify() -> str:
    lines = ["# Netlify / Cloudflare Pages: headers for every path (written by edgepack)", "/*"]
    lines += [f"  {k}: {v}" for k, v in SECURITY_HEADERS.items()]
    for ext in (".wasm", ".mjs"):
        lines += [f"/*{ext}", f"  Content-Type: {MIME_TYPES[ext]}"]
    return "\n".join(lines) + "\n"


def _vercel() -> str:
    headers = [{"key": k, "value": v} for k, v in SECURITY_HEADERS.items()]
    rules = [{"source": "/(.*)", "headers": headers}]
    rules += [
        {"source": f"/(.*)\\{ext}", "headers": [{"key": "Content-Type", "value": MIME_TYPES[ext]}]}
        for ext in (".wasm", ".mjs")
    ]
    return json.dumps({"headers": rules}, indent=2) + "\n"


def _azure() -> str:
    return json.dumps(
        {
            "globalHeaders": dict(SECURITY_HEADERS),
            "mimeTypes": {ext: MIME_TYPES[ext] for ext in (".wasm", ".mjs", ".onnx", ".json")},
        },
        indent=2,
    ) + "\n"


def _apache() -> str:
    lines = ["# Apache (mod_headers, mod_mime): written by edgepack", "<IfModule mod_mime.c>"]
    lines += [f"  AddType {MIME_TYPES[e].split(';')[0]} {e}" for e in (".wasm", ".mjs", ".onnx")]
    lines += ["</IfModule>", "<IfModule mod_headers.c>"]
    lines += [f'  Header always set {k} "{v}"' for k, v in SECURITY_HEADERS.items()]
    lines += ["</IfModule>"]
    return "\n".join(lines) + "\n"


def _nginx() -> str:
    lines = [
        "# nginx: `include` this inside the server/location block that serves the bundle (written by edgepack).",
        "# gzip_static serves the .gz copies; brotli_static needs the ngx_brotli module.",
        "types { application/wasm wasm; text/javascript mjs js; }",
        "gzip_static on;",
        "# brotli_static on;",
    ]
    lines += [f"add_header {k} \"{v}\" always;" for k, v in SECURITY_HEADERS.items()]
    return "\n".join(lines) + "\n"


def host_files() -> dict[str, str]:
    """file name -> content, for every supported static host."""
    return {
        "_headers": _netlify(),
        "vercel.json": _vercel(),
        "staticwebapp.config.json": _azure(),
        ".htaccess": _apache(),
        "nginx.conf": _nginx(),
    }


def write_host_files(directory: Path) -> list[str]:
    out = []
    for name, text in host_files().items():
        (Path(directory) / name).write_text(text, encoding="utf-8")
        out.append(name)
    return out
