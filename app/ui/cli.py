"""``vidsearch ui``: the web UI's command, mounted into the main CLI by ``vidsearch.app.cli``.

Kept out of ``cli.py`` so the CLI module stays free of UI options; gradio is imported only when the
command runs, so ``vidsearch --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vidsearch.app.options import IndexOption

app = typer.Typer()


@app.command()
def ui(
    index_dir: Path = IndexOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; 0.0.0.0 exposes the UI to your network."),
    port: int = typer.Option(7860, "--port", "-p", help="Port to serve on."),
    share: bool = typer.Option(False, "--share", help="Also open a public gradio.live link (off unless asked)."),
    max_upload: str = typer.Option("200mb", "--max-upload", help="Largest query clip accepted, e.g. 50mb, 1gb."),
    allow_host: list[str] = typer.Option(
        [],
        "--allow-host",
        help="Also answer requests for this Host name (a reverse proxy's or the machine's name; repeatable). "
        "Others are refused to stop DNS-rebinding attacks; '*' accepts any.",
    ),
) -> None:
    """Open the query-by-example web UI over an index (Ctrl+C stops it)."""
    from vidsearch.app.errors import run_or_exit
    from vidsearch.app.ui.blocks import launch

    run_or_exit(lambda: launch(index_dir, host, port, share, allow_hosts=allow_host, max_file_size=max_upload))
