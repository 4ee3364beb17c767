"""`opsreview run` on tiny purpose-built notebooks: exit codes, files, safety."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsreview.cli import main
from tests.nbfactory import OPEN, write_notebook, write_params

DAY = "2026-11-20"


def run_cli(*args: str) -> int:
    return main(["run", *args])


@pytest.fixture
def suite(tmp_path: Path) -> dict[str, Path]:
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "ok")
    params = write_params(tmp_path / "p.yaml", nbs, tmp_path / "out", tmp_path / "store")
    return {"nbs": nbs, "params": params, "out": tmp_path / "out"}


def published(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) if out.exists() else []


def test_ok_run_writes_notebook_html_summary_and_index(suite: dict[str, Path]) -> None:
    code = run_cli("--params", str(suite["params"]), "--date", DAY)
    assert code == 0  # one warning finding, fail_on critical
    day = suite["out"] / DAY
    assert sorted(p.name for p in day.iterdir()) == ["index.html", "ok.html", "ok.ipynb", "summary.json"]
    summary = json.loads((day / "summary.json").read_text())
    assert summary["date"] == DAY and summary["environment"] == "test" and summary["status"] == "ok"
    assert summary["counts"] == {"critical": 0, "warning": 1, "info": 0}
    assert summary["findings"][0]["check"] == "ok.sample"
    assert summary["findings"][0]["title"] == f"sample finding for {DAY}"
    assert summary["notebooks"][0] | {"duration_s": 0} == {
        "name": "ok",
        "status": "ok",
        "duration_s": 0,
        "html": "ok.html",
        "ipynb": "ok.ipynb",
        "error": None,
    }
    html = (day / "ok.html").read_text()
    assert "open_review(" not in html  # code hidden
    assert "../_assets/plotly-" in html and "cdnjs" not in html and "https://cdn" not in html
    assert (suite["out"] / "_assets").is_dir()
    assert DAY in (suite["out"] / "index.html").read_text()


def test_critical_finding_exits_1(tmp_path: Path) -> None:
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "critical")
    params = write_params(tmp_path / "p.yaml", nbs, tmp_path / "out", tmp_path / "store")
    assert run_cli("--params", str(params), "--date", DAY) == 1
    summary = json.loads((tmp_path / "out" / DAY / "summary.json").read_text())
    assert summary["status"] == "alert" and summary["counts"]["critical"] == 1


def test_raising_notebook_still_gets_html_and_exits_3(tmp_path: Path) -> None:
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "ok")
    write_notebook(nbs, "raises")
    params = write_params(tmp_path / "p.yaml", nbs, tmp_path / "out", tmp_path / "store")
    assert run_cli("--params", str(params), "--date", DAY) == 3
    day = tmp_path / "out" / DAY
    summary = json.loads((day / "summary.json").read_text())
    by_name = {nb["name"]: nb for nb in summary["notebooks"]}
    assert by_name["ok"]["status"] == "ok"
    assert by_name["raises"]["status"] == "failed"
    assert "planted failure" in by_name["raises"]["error"]
    assert "planted failure in the raises notebook" in (day / "raises.html").read_text()
    assert summary["status"] == "failed"
    assert any(f["check"] == "raises.notebook_failed" for f in summary["findings"])


def test_notebook_timeout_is_enforced(tmp_path: Path) -> None:
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "slow")
    params = write_params(tmp_path / "p.yaml", nbs, tmp_path / "out", tmp_path / "store", timeout=3)
    started = time.monotonic()
    assert run_cli("--params", str(params), "--date", DAY) == 3
    assert time.monotonic() - started < 60  # the notebook sleeps 120 s
    summary = json.loads((tmp_path / "out" / DAY / "summary.json").read_text())
    assert summary["notebooks"][0]["status"] == "timeout"
    assert (tmp_path / "out" / DAY / "slow.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-13-01"], "expected YYYY-MM-DD"),
        (["--date", "yesterday"], "expected YYYY-MM-DD"),
        (["--date", "2999-01-01"], "in the future"),
        (["--only", "ok,nosuch"], "unknown area nosuch"),
        (["--jobs", "0"], "--jobs 0"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_writes_nothing(
    suite: dict[str, Path], args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("--params", str(suite["params"]), *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not suite["out"].exists()


def test_missing_params_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--params", str(tmp_path / "missing.yaml")) == 2
    assert "missing.yaml: params file not found" in capsys.readouterr().err


def test_notebook_without_parameters_cell_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "ok")
    write_notebook(nbs, "noparams", body="print(1)", parameters=False)
    params = write_params(tmp_path / "p.yaml", nbs, tmp_path / "out", tmp_path / "store")
    assert run_cli("--params", str(params), "--date", DAY) == 2
    assert "noparams.ipynb: no code cell tagged 'parameters'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_outputs_under_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unwritable outputs, in a form that holds even for root: its parent is a regular file."""
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "ok")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    params = write_params(tmp_path / "p.yaml", nbs, blocker / "out", tmp_path / "store")
    assert run_cli("--params", str(params), "--date", DAY) == 2
    err = capsys.readouterr().err
    assert "outputs folder" in err and "cannot create" in err


def test_rerun_replaces_the_date_folder(suite: dict[str, Path]) -> None:
    assert run_cli("--params", str(suite["params"]), "--date", DAY) == 0
    marker = suite["out"] / DAY / "stale-file"
    marker.write_text("from an earlier run")
    assert run_cli("--params", str(suite["params"]), "--date", DAY) == 0
    assert not marker.exists()
    assert published(suite["out"]) == [DAY, "_assets", "index.html"]


def _flock_held(path: Path) -> bool:
    """Whether some process holds a flock on ``path`` (from /proc/locks: no lock taken here)."""
    try:
        inode = path.stat().st_ino
    except FileNotFoundError:
        return False
    locks = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    return any(line.split()[1] == "FLOCK" and line.split()[5].endswith(f":{inode}") for line in locks.splitlines())


def test_concurrent_run_is_refused_with_a_clear_message(suite: dict[str, Path]) -> None:
    """While one run holds the outputs folder, a second exits 2 and touches nothing."""
    # a notebook that takes 10 s keeps the first run in the lock however slow the machine is
    write_notebook(suite["nbs"], "hold", body=OPEN + "\nimport time\ntime.sleep(10)")
    first = subprocess.Popen(
        [sys.executable, "-m", "opsreview.cli", "run", "--params", str(suite["params"]), "--date", DAY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = suite["out"] / ".opsreview.lock"
    deadline = time.monotonic() + 30
    # the lock file outlives a run (with its pid in it): wait until the kernel says it is held
    while time.monotonic() < deadline and not _flock_held(lock):
        time.sleep(0.05)
    second = subprocess.run(
        [sys.executable, "-m", "opsreview.cli", "run", "--params", str(suite["params"]), "--date", "2026-11-19"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.wait(timeout=120) == 0
    assert second.returncode == 2
    assert "another opsreview run is in progress" in second.stderr
    assert published(suite["out"]) == [DAY, "_assets", "index.html"]


def test_killed_run_never_leaves_a_complete_looking_folder(suite: dict[str, Path]) -> None:
    """Kill a run mid-way: no date folder appears; the next run cleans up and publishes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsreview.cli", "run", "--params", str(suite["params"]), "--date", DAY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(suite["out"].glob(".staging-*")):
        time.sleep(0.02)
    os.killpg(proc.pid, 9)
    proc.wait()
    assert list(suite["out"].glob(".staging-*")), "the run was killed before it staged anything"
    assert not (suite["out"] / DAY).exists()
    assert run_cli("--params", str(suite["params"]), "--date", DAY) == 0
    assert not list(suite["out"].glob(".staging-*"))
    assert (suite["out"] / DAY / "summary.json").exists()


def test_resolved_secret_never_reaches_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-Pa55w0rd-for-tests"
    monkeypatch.setenv("OPSREVIEW_TEST_SECRET", secret)
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "secret")
    # Referenced the way a real params file does: as a probe's Authorization header.
    extra = (
        "probes:\n  targets:\n    - name: api\n      url: http://127.0.0.1:9/health\n"
        '      headers:\n        Authorization: "Bearer ${OPSREVIEW_TEST_SECRET}"\n'
    )
    params = write_params(tmp_path / "p.yaml", nbs, tmp_path / "out", tmp_path / "store", extra=extra)
    assert run_cli("--params", str(params), "--date", DAY) == 3
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix != ".js"]
    assert {p.name for p in written} >= {"secret.ipynb", "secret.html", "summary.json"}
    for path in written:
        assert secret not in path.read_text(errors="replace"), path
    assert "***" in (tmp_path / "out" / DAY / "secret.ipynb").read_text()


def test_default_date_is_yesterday_in_params_timezone(suite: dict[str, Path]) -> None:
    assert run_cli("--params", str(suite["params"])) == 0
    from zoneinfo import ZoneInfo

    yesterday = dt.datetime.now(ZoneInfo("Europe/Berlin")).date() - dt.timedelta(days=1)
    assert published(suite["out"]) == [yesterday.isoformat(), "_assets", "index.html"]
