from __future__ import annotations

import click


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (use 0.0.0.0 to expose).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--no-isolation", is_flag=True,
              help="Drop COOP/COEP: the page then runs single-threaded, as behind a plain static server.")
def serve(directory, host, port, no_isolation):
    """Serve a web bundle (or Pyodide bundle) for local use.

    Correct MIME types (application/wasm), COOP same-origin + COEP require-corp so onnxruntime-web
    can use threads, a strict CSP (script-src 'self' 'wasm-unsafe-eval'), pre-compressed .br/.gz.
    Binds 127.0.0.1 unless told otherwise. Stop with Ctrl-C.

    \b
    Example:
      edgepack build samples/sentiment --target wasm
      edgepack serve samples/sentiment/dist/sentiment-wasm --port 8000
    """
    from edgepack.web.serve import serve as run_server

    click.echo(f"serving {directory} on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    try:
        run_server(directory, host=host, port=port, isolate=not no_isolation)
    except KeyboardInterrupt:
        pass
