"""`make lab` opens JupyterLab, as root too (issue 10 item 9: in a container or a fresh VM it
stopped with JupyterLab's "Running as root is not recommended").

The test runs the Makefile's own `lab` target with `make`, skipping its `demo` prerequisite
(``-o demo``: the demo data is not what is tested, and it takes minutes) and pointing ``BIN``
at this interpreter's environment; ``LAB_ARGS`` picks a free port, no browser and a known
token. It passes when JupyterLab answers on that port, then stops it. Run as root it fails
without ``--allow-root`` in the target; as another user it checks that the target starts.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, skip_or_fail

pytestmark = pytest.mark.slow
STARTUP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_make_lab_opens_jupyterlab(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    if shutil.which("make") is None or not (bin_dir / "jupyter").exists():
        skip_or_fail(f"needs make and jupyter in {bin_dir}")
    port, token = free_port(), secrets.token_hex(16)
    lab_args = f"--no-browser --port={port} --ServerApp.port_retries=0 --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        # Own session: the stop below signals make, jupyter and nothing else.
        process = subprocess.Popen(
            ["make", "--no-print-directory", "-o", "demo", "lab", f"BIN={bin_dir}", f"LAB_ARGS={lab_args}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        status = None
        while status != 200:
            if process.poll() is not None:
                pytest.fail(f"make lab exited with {process.returncode}: {log.read_text(errors='replace')[-1500:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab not answering after {STARTUP_TIMEOUT_S} s: {log.read_text()[-1500:]}")
            with contextlib.suppress(requests.RequestException):
                status = requests.get(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2).status_code
            time.sleep(0.2)
        lab = requests.get(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10)
        assert lab.status_code == 200 and "JupyterLab" in lab.text
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
