"""`make demo` when its port is already in use: a BRAPI stand-in there is used as is, any
other program stops the demo with one line naming the port (never a traceback)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.fake_brapi import petr4_fake, serve

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)  # the project's venv running these tests: `make` must not rebuild it


def make_demo(port: int, demo_lake: Path) -> subprocess.CompletedProcess[str]:
    """`make demo` on `port`, with this venv (marked up to date) and a temporary lake."""
    stamp = f"{VENV}/.installed"
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            stamp,
            "demo",
            f"VENV={VENV}",
            f"FAKE_BRAPI_PORT={port}",
            f"DEMO_LAKE={demo_lake}",
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("BRAPI_BASE_URL", "LAKE_URI")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


class _NotBrapi(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(404, "this is not BRAPI")

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def _other_program() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotBrapi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_make_demo_uses_a_stand_in_already_running_on_its_port(tmp_path: Path) -> None:
    fake = petr4_fake()
    with serve(fake) as url:
        port = int(url.rsplit(":", 1)[1])
        done = make_demo(port, tmp_path / "demo-lake")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Using the BRAPI stand-in already running on {url}\n")
    assert "Traceback" not in done.stderr and "Address already in use" not in done.stderr
    assert "Quality check passed: 0 violations" in done.stdout
    assert done.stdout.rstrip().endswith("(1 row)")  # latest_signals.sql
    pipeline = [r for r in fake.requests if r["headers"]["user-agent"].startswith("b3pipeline/")]
    assert len(pipeline) == 2  # the backfill's and the run's: it served the demo
    assert (tmp_path / "demo-lake" / "reports" / "quotes_2022-09-09.png").is_file()


def test_make_demo_stops_in_one_line_when_another_program_holds_the_port(
    tmp_path: Path,
) -> None:
    with _other_program() as port:
        done = make_demo(port, tmp_path / "demo-lake")

    assert done.returncode != 0
    # make's own "make: *** [Makefile:N: demo] Error 1" (make[1]: under another make) aside
    message = [line for line in done.stderr.splitlines() if not re.match(r"make(\[\d+\])?: ", line)]
    assert message == [
        f"port {port} on 127.0.0.1 is taken by a program that does not answer as BRAPI: "
        f"stop it, or use another port (make demo FAKE_BRAPI_PORT={port + 1})"
    ]
    assert done.stdout == ""
    assert not (tmp_path / "demo-lake").exists()
