"""Progress on a terminal, silence under cron or a pipe (issue 10 item 6)."""

from __future__ import annotations

import io
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

from opsreview.demo import generate_demo
from opsreview.progress import Progress, announce

ROOT = Path(__file__).resolve().parents[1]


def _read_all(fd: int, timeout: float = 0.5) -> str:
    chunks = []
    while select.select([fd], [], [], timeout)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:  # the other side closed (Linux reports EIO on a pty)
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def test_progress_draws_on_a_terminal_and_ends_its_line() -> None:
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as stream:
        progress = Progress("access logs", files=2, total_bytes=2_000_000, stream=stream, delay=0, interval=0)
        progress.advance(files=1, nbytes=1_000_000, lines=5000)
        progress.close()
        announce("  notebook logs: ok (1.0 s)", stream)
        text = _read_all(master)
    os.close(master)
    assert "access logs: files 1/2, 1.0 MB of 2.0 MB" in text
    assert "lines/s" in text and "left" in text
    assert "notebook logs: ok" in text
    assert text.rstrip("\r\n").count("\n") >= 1  # the progress line was ended


def test_progress_is_silent_on_a_pipe_or_file() -> None:
    stream = io.StringIO()
    progress = Progress("access logs", files=2, total_bytes=10, stream=stream, delay=0, interval=0)
    progress.advance(files=2, nbytes=10, lines=10)
    progress.close()
    announce("notebook done", stream)
    assert stream.getvalue() == ""


def _demo_params(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "demo-data"
    truth = generate_demo(data, days=2, requests_per_day=20_000, seed=3)
    text = (ROOT / "params" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("../outputs/demo-data", str(data)).replace("outputs: ../outputs", f"outputs: {tmp_path}/out")
    params = tmp_path / "demo.yaml"
    params.write_text(text, encoding="utf-8")
    return params, str(truth["review_date"])


def test_a_pull_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    params, day = _demo_params(tmp_path)
    cmd = [sys.executable, "-m", "opsreview.cli", "pull", "--params", str(params), "--date", day]
    env = {**os.environ, "OPSREVIEW_PROGRESS_DELAY": "0", "TERM": "xterm"}
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while proc.poll() is None:
        chunks.append(_read_all(master, 0.2))
    chunks.append(_read_all(master, 0.2))
    os.close(master)
    terminal = "".join(chunks)
    assert proc.returncode == 0, terminal
    assert "access logs: files" in terminal and "lines/s" in terminal, terminal

    # the same pull under cron (stderr a pipe), on an empty store again: nothing but the table
    for table in ("requests", "log_files", "app_events"):
        shutil.rmtree(tmp_path / "demo-data" / "store" / table, ignore_errors=True)
    piped = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert "access logs: files" not in piped.stderr and "\r" not in piped.stderr
    assert "access_logs" in piped.stdout and " 0 new" not in piped.stdout.split("access_logs")[1].split("\n")[0]
