"""Benchmark: reading a MongoDB structured log into slow-query rows and shapes, against the floor.

    python -m tests.bench.bench_mongo_log [--mb 1024] [--repeat 3]

The log (generated once under .bench/mongo-log/, reused) is what a busy mongod writes: mostly
connection, authentication, client metadata, checkpoint and other lines, and about a fifth of
slow-query lines (id 51803) in 8.0 and 7.0 forms - finds, aggregates, getMores, WRITE update and
remove statements with their write commands' own lines, counts, distincts, findAndModify -
over fifty shapes with random values, plus the odd line that is not JSON.

Measured, each in a fresh process timed from outside (interpreter start and imports included),
with the peak RSS of its process tree (sampled from /proc every 0.1 s and summed over the tree,
as bench_day_sizes does):

- ours: ``slowlog.read_log_file`` (DuckDB's JSON reader keeps the slow-query lines' fields, a
  thread counts lines, Python masks one command per distinct shape) + ``shapes.shape_table``;
- the floor: DuckDB reading the same file as newline-delimited JSON and counting the slow-query
  lines: ``SELECT count(*) FROM read_json(path, format='newline_delimited', columns={'id':
  'BIGINT'}, ignore_errors=true) WHERE id = 51803`` - the least any reader of the file as JSON
  must do (parse every line), with DuckDB's threads on every core; ``ignore_errors`` skips the
  lines that are not JSON. (read_ndjson_objects would be no floor: it only splits lines.)

Each runs ``--repeat`` times, alternated so that a busy moment of a shared machine hits both;
the fastest run of each counts (CPU seconds are shown too: they depend less on the load).
Goal: within 3x of the floor, and a peak RSS of at most 1 GB for a 1 GB file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from tests.bench.bench_day_sizes import tree_rss_mb

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".bench" / "mongo-log"
TARGET = 3.0
RSS_TARGET_MB = 1024
FLOOR_SQL = (
    "SELECT count(*) FROM read_json('{path}', format='newline_delimited', columns={{'id': 'BIGINT'}}, "
    "ignore_errors=true) WHERE id = 51803"
)

# --- the generated log ----------------------------------------------------------------------

COLLS = ["orders", "users", "products", "carts", "invoices", "sessions", "events", "payments", "customers"]
APPS = ["shop-api", "billing-worker", "reports-cron", "search-indexer", "admin-ui"]
FIELDS = ["status", "customerId", "merchantId", "email", "createdAt", "updatedAt", "total", "country", "sku", "state"]
PLANS = [
    "COLLSCAN",
    "IXSCAN { status: 1 }",
    "IXSCAN { customerId: 1, createdAt: -1 }",
    "IXSCAN { merchantId: 1 }",
    "IDHACK",
]


def _hex(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice("0123456789ABCDEF") for _ in range(n))


def _value(rnd: random.Random, field: str) -> Any:
    if field in ("createdAt", "updatedAt"):
        return {"$date": f"2024-0{rnd.randint(1, 9)}-{rnd.randint(10, 28)}T{rnd.randint(10, 23)}:00:00.000Z"}
    if field == "email":
        return f"user{rnd.randint(1, 10**7)}@example.com"
    if field == "total":
        return rnd.randint(100, 100_000)
    if field in ("customerId", "merchantId"):
        return {"$oid": _hex(rnd, 24).lower()}
    return rnd.choice(["pending", "paid", "shipped", "FR", "DE", "open", "closed", f"sku-{rnd.randint(1, 99999)}"])


class _Shapes:
    """About fifty query shapes: (type, component, command builder, origin builder) with their server hashes."""

    def __init__(self, rnd: random.Random) -> None:
        self.templates: list[dict[str, Any]] = []
        for i in range(50):
            coll = COLLS[i % len(COLLS)]
            fields = rnd.sample(FIELDS, rnd.randint(1, 4))
            ops = ["$gte", "$lt", "$in", "$ne", None, None]
            kind = [
                "find",
                "find",
                "find",
                "aggregate",
                "getMore",
                "update",
                "remove",
                "count",
                "distinct",
                "findAndModify",
            ][i % 10]
            self.templates.append(
                {
                    "coll": coll,
                    "fields": fields,
                    "ops": [rnd.choice(ops) for _ in fields],
                    "sort": {rnd.choice(FIELDS): rnd.choice([1, -1])} if rnd.random() < 0.6 else None,
                    "kind": kind,
                    "plan": rnd.choice(PLANS),
                    "hash": _hex(rnd, 8),
                    "shape_hash": _hex(rnd, 64),
                    "app": rnd.choice(APPS),
                }
            )

    def filter(self, rnd: random.Random, t: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, op in zip(t["fields"], t["ops"], strict=True):
            if op is None:
                out[field] = _value(rnd, field)
            elif op == "$in":
                out[field] = {"$in": [_value(rnd, field) for _ in range(rnd.randint(2, 12))]}
            else:
                out[field] = {op: _value(rnd, field)}
        return out


def _lsid(rnd: random.Random) -> dict[str, Any]:
    return {"id": {"$uuid": f"{_hex(rnd, 8)}-{_hex(rnd, 4)}-4{_hex(rnd, 3)}-8{_hex(rnd, 3)}-{_hex(rnd, 12)}".lower()}}


def _slow_line(rnd: random.Random, shapes: _Shapes, ts: str, conn: int, v8: bool) -> list[bytes]:
    t = rnd.choice(shapes.templates)
    coll, db = t["coll"], "shop"
    flt = shapes.filter(rnd, t)
    kind = t["kind"]
    component, typ, origin = "COMMAND", "command", None
    if kind == "find":
        command: dict[str, Any] = {"find": coll, "filter": flt}
        if t["sort"]:
            command["sort"] = t["sort"]
        command["limit"] = rnd.choice([20, 50, 100])
    elif kind == "aggregate":
        command = {
            "aggregate": coll,
            "pipeline": [{"$match": flt}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}, {"$sort": {"n": -1}}],
            "cursor": {},
        }
    elif kind == "getMore":
        command = {"getMore": rnd.randint(10**17, 10**18), "collection": coll, "batchSize": 101}
        origin = {"find": coll, "filter": flt, "$db": db}
    elif kind == "update":
        component, typ = "WRITE", "update"
        command = {
            "q": flt,
            "u": {"$set": {"state": _value(rnd, "state"), "updatedAt": _value(rnd, "updatedAt")}},
            "multi": rnd.random() < 0.3,
            "upsert": False,
        }
    elif kind == "remove":
        component, typ = "WRITE", "remove"
        command = {"q": flt, "limit": 0}
    elif kind == "count":
        command = {"count": coll, "query": flt}
    elif kind == "distinct":
        command = {"distinct": coll, "key": "country", "query": flt}
    else:
        command = {"findAndModify": coll, "query": flt, "update": {"$inc": {"total": rnd.randint(1, 50)}}, "new": True}
    if component == "COMMAND":
        command["lsid"] = _lsid(rnd)
        command["$clusterTime"] = {
            "clusterTime": {"$timestamp": {"t": 1709550161, "i": rnd.randint(1, 9)}},
            "signature": {"hash": {"$binary": {"base64": "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "subType": "0"}}, "keyId": 0},
        }
        command["$db"] = db
    docs = rnd.randint(100, 2_000_000)
    duration = rnd.randint(100, 5000)
    attr: dict[str, Any] = {"type": typ}
    if v8:
        attr["isFromUserConnection"] = True
    attr["ns"] = f"{db}.{coll}"
    if v8:
        attr["collectionType"] = "normal"
    attr["appName"] = t["app"]
    attr["command"] = command
    if origin:
        attr["originatingCommand"] = origin
    attr.update(
        {
            "planSummary": t["plan"],
            "planningTimeMicros": rnd.randint(50, 900),
            "keysExamined": docs // 2,
            "docsExamined": docs,
        }
    )
    if kind in ("find", "aggregate") and rnd.random() < 0.3:
        attr["hasSortStage"] = True
    attr.update({"cursorExhausted": True, "numYields": docs // 1000, "nreturned": rnd.randint(0, 200)})
    if kind in ("update", "findAndModify"):
        attr["nMatched"] = attr["nModified"] = rnd.randint(1, 50)
    if v8:
        attr.update({"planCacheShapeHash": t["hash"], "queryHash": t["hash"], "planCacheKey": _hex(rnd, 8)})
        if kind in ("find", "aggregate", "count", "distinct"):
            attr["queryShapeHash"] = t["shape_hash"]
    else:
        attr.update({"queryHash": t["hash"], "planCacheKey": _hex(rnd, 8)})
    attr.update(
        {
            "queryFramework": "classic",
            "reslen": rnd.randint(100, 100_000),
            "locks": {"FeatureCompatibilityVersion": {"acquireCount": {"r": 3}}, "Global": {"acquireCount": {"r": 3}}},
            "readConcern": {"level": "local", "provenance": "implicitDefault"},
            "storage": {"data": {"bytesRead": docs * 300, "timeReadingMicros": duration * 200}},
            "cpuNanos": duration * 900_000,
            "remote": f"10.20.{rnd.randint(0, 9)}.{rnd.randint(1, 254)}:{rnd.randint(30000, 65000)}",
            "protocol": "op_msg",
        }
    )
    if v8:
        attr["queues"] = {"execution": {"admissions": 3}}
        attr["workingMillis"] = duration - rnd.randint(0, duration // 4)
    attr["durationMillis"] = duration
    svc = '"svc":"S", ' if v8 else ""
    pad = " " * (9 - len(component))  # mongod pads "c" and "id" after the comma: "WRITE",    "id"
    head = f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"{component}",{pad}"id":51803,   {svc}"ctx":"conn{conn}","msg":"Slow query","attr":'
    lines = [head.encode() + orjson.dumps(attr) + b"}"]
    if component == "WRITE":  # the write command's own line follows its statement's
        batch = {
            "type": "command",
            "ns": f"{db}.$cmd",
            "appName": t["app"],
            "command": {
                "update" if typ == "update" else "delete": coll,
                "ordered": True,
                "lsid": _lsid(rnd),
                "$db": db,
            },
            "numYields": 0,
            "reslen": 60,
            "protocol": "op_msg",
            "durationMillis": duration + 1,
        }
        lines.append(
            f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"COMMAND",  "id":51803,   {svc}"ctx":"conn{conn}","msg":"Slow query","attr":'.encode()
            + orjson.dumps(batch)
            + b"}"
        )
    return lines


def _other_line(rnd: random.Random, ts: str, conn: int) -> bytes:
    ip = f"10.20.{rnd.randint(0, 9)}.{rnd.randint(1, 254)}:{rnd.randint(30000, 65000)}"
    uuid = f"{_hex(rnd, 8)}-{_hex(rnd, 4)}-4{_hex(rnd, 3)}-8{_hex(rnd, 3)}-{_hex(rnd, 12)}".lower()
    pick = rnd.random()
    if pick < 0.25:
        return f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"NETWORK",  "id":22943,   "ctx":"listener","msg":"Connection accepted","attr":{{"remote":"{ip}","isLoadBalanced":false,"uuid":{{"uuid":{{"$uuid":"{uuid}"}}}},"connectionId":{conn},"connectionCount":{rnd.randint(5, 400)}}}}}'.encode()
    if pick < 0.50:
        return f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"NETWORK",  "id":22944,   "ctx":"conn{conn}","msg":"Connection ended","attr":{{"remote":"{ip}","isLoadBalanced":false,"uuid":{{"uuid":{{"$uuid":"{uuid}"}}}},"connectionId":{conn},"connectionCount":{rnd.randint(5, 400)}}}}}'.encode()
    if pick < 0.68:
        app = rnd.choice(APPS)
        return f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"NETWORK",  "id":51800,   "ctx":"conn{conn}","msg":"client metadata","attr":{{"remote":"{ip}","client":"conn{conn}","negotiatedCompressors":[],"doc":{{"application":{{"name":"{app}"}},"driver":{{"name":"nodejs","version":"6.8.0"}},"platform":"Node.js v22.4.1, LE","os":{{"name":"linux","architecture":"x64","version":"6.8.0-1012-aws","type":"Linux"}}}}}}}}'.encode()
    if pick < 0.82:
        return f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"ACCESS",   "id":5286306, "ctx":"conn{conn}","msg":"Successfully authenticated","attr":{{"client":"{ip}","isSpeculative":true,"isClusterMember":false,"mechanism":"SCRAM-SHA-256","user":"shop-api","db":"admin","result":0,"metrics":{{"conversation_duration":{{"micros":{rnd.randint(2000, 90000)},"summary":{{"0":{{"step":1,"step_total":2,"duration_micros":{rnd.randint(50, 900)}}},"1":{{"step":2,"step_total":2,"duration_micros":{rnd.randint(20, 90)}}}}}}}}},"extraInfo":{{}}}}}}'.encode()
    if pick < 0.92:
        return f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"NETWORK",  "id":6788700, "ctx":"conn{conn}","msg":"Received first command on ingress connection since session start or auth handshake","attr":{{"elapsedMillis":{rnd.randint(0, 40)}}}}}'.encode()
    if pick < 0.97:
        return f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"WTCHKPT",  "id":22430,   "ctx":"Checkpointer","msg":"WiredTiger message","attr":{{"message":{{"ts_sec":{rnd.randint(1709500000, 1709600000)},"ts_usec":{rnd.randint(0, 999999)},"thread":"1:0x7f2b5c1fe640","session_name":"WT_SESSION.checkpoint","category":"WT_VERB_CHECKPOINT_PROGRESS","category_id":7,"verbose_level":"DEBUG_1","verbose_level_id":1,"msg":"saving checkpoint snapshot min: {rnd.randint(1, 10**6)}, snapshot max: {rnd.randint(1, 10**6)} snapshot count: 0, oldest timestamp: (0, 0) , meta checkpoint timestamp: (0, 0) base write gen: {rnd.randint(1, 10**6)}"}}}}}}'.encode()
    return f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"-",        "id":20883,   "ctx":"conn{conn}","msg":"Interrupted operation as its client disconnected","attr":{{"opId":{rnd.randint(1, 10**7)}}}}}'.encode()


def generate(path: Path, mb: int, slow_share: float = 0.2, seed: int = 51803) -> dict[str, int]:
    """Write about ``mb`` MB of log to ``path``; returns the counts of lines written."""
    rnd = random.Random(seed)
    shapes = _Shapes(rnd)
    target = mb * 1_000_000
    written = lines = slow = 0
    start = 1709510400.0  # 2024-03-04T00:00:00Z
    tmp = path.with_suffix(".partial")
    with tmp.open("wb") as fh:
        batch: list[bytes] = []
        batch_bytes = 0
        i = 0
        while written + batch_bytes < target:
            i += 1
            sec = start + i * 0.0004
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{int(sec * 1000) % 1000:03d}+00:00"
            conn = rnd.randint(1000, 90000)
            if i % 150_000 == 0:
                out = [b"Killing process with pid: 28"]
            elif rnd.random() < slow_share:
                out = _slow_line(rnd, shapes, ts, conn, v8=rnd.random() < 0.6)
                slow += 1 if len(out) == 1 else 2
            else:
                out = [_other_line(rnd, ts, conn)]
            for line in out:
                batch.append(line)
                batch_bytes += len(line) + 1
                lines += 1
            if batch_bytes > 8 << 20:
                fh.write(b"\n".join(batch) + b"\n")
                written += batch_bytes
                batch, batch_bytes = [], 0
        if batch:
            fh.write(b"\n".join(batch) + b"\n")
            written += batch_bytes
    tmp.rename(path)
    facts = {"lines": lines, "slow": slow, "bytes": written}
    path.with_suffix(".json").write_text(json.dumps(facts))
    return facts


def ensure_log(mb: int) -> tuple[Path, dict[str, int]]:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"mongod-{mb}mb.log"
    facts_file = path.with_suffix(".json")
    if path.exists() and facts_file.exists():
        return path, json.loads(facts_file.read_text())
    print(f"generating {path} ...", flush=True)
    started = time.monotonic()
    facts = generate(path, mb)
    print(
        f"  {facts['lines']:,} lines, {facts['slow']:,} slow-query lines, in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return path, facts


# --- the two runs ---------------------------------------------------------------------------


def child_ours(path: Path) -> None:
    from opsreview import engine
    from opsreview.database import shapes, slowlog

    started = time.monotonic()
    table, read = slowlog.read_log_file(path, "bench:27017")
    read_s = time.monotonic() - started
    con = engine.connect()
    per_shape = shapes.shape_table(con.from_arrow(table))
    print(
        json.dumps(
            {
                "rows": table.num_rows,
                "lines": read["lines"],
                "non_json": read["non_json"],
                "shapes": len(per_shape),
                "read_s": read_s,
                "table_mb": table.nbytes / 1e6,
            }
        )
    )


def child_floor(path: Path) -> None:
    from opsreview import engine

    con = engine.connect()
    (count,) = con.execute(FLOOR_SQL.format(path=str(path).replace("'", "''"))).fetchone() or (0,)
    print(json.dumps({"rows": count}))


def measure(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, peak RSS of the process tree in MB, CPU seconds (user + system), stdout."""
    peak = 0.0
    started = time.monotonic()
    with open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=devnull)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss_mb(proc.pid))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert proc.stdout is not None and proc.stderr is not None
        out = proc.stdout.read()
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"{shlex.join(cmd)} failed:\n{err.decode(errors='replace')[-3000:]}")
    return elapsed, peak, usage.ru_utime + usage.ru_stime, out.decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=1024, help="size of the generated log in MB")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternated; the fastest counts")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        (child_ours if args.child[0] == "ours" else child_floor)(Path(args.child[1]))
        return
    path, facts = ensure_log(args.mb)
    size_mb = path.stat().st_size / 1e6
    invocation = shlex.join(["python", "-m", "tests.bench.bench_mongo_log", *sys.argv[1:]])
    print(f"\n# {invocation}   ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start)")
    print(f"data: {path.name}, {size_mb:,.0f} MB, {facts['lines']:,} lines, {facts['slow']:,} slow-query lines")
    ours_cmd = [sys.executable, "-m", "tests.bench.bench_mongo_log", "--child", "ours", str(path)]
    floor_cmd = [sys.executable, "-m", "tests.bench.bench_mongo_log", "--child", "floor", str(path)]
    runs: dict[str, list[tuple[float, float, float, str]]] = {"ours": [], "floor": []}
    for _ in range(max(1, args.repeat)):  # alternated, so that a busy moment hits both
        runs["ours"].append(measure(ours_cmd))
        runs["floor"].append(measure(floor_cmd))
    ours_s, ours_rss, ours_cpu, out = min(runs["ours"])
    ours = json.loads(out.strip().splitlines()[-1])
    floor_s, floor_rss, floor_cpu, out = min(runs["floor"])
    floor = json.loads(out.strip().splitlines()[-1])
    peak_rss = max(r[1] for r in runs["ours"])
    walls = {k: ", ".join(f"{r[0]:.1f}" for r in v) for k, v in runs.items()}
    print(
        f"ours: read_log_file + shape_table: {ours_s:.1f} s, {size_mb / ours_s:,.0f} MB/s, CPU {ours_cpu:.1f} s, peak RSS of the tree {peak_rss:,.0f} MB"
    )
    print(
        f"    {ours['rows']:,} rows ({ours['table_mb']:,.0f} MB of Arrow), {ours['shapes']:,} shapes, read alone {ours['read_s']:.1f} s; runs: {walls['ours']} s"
    )
    print(
        f"    command: {shlex.join(['python', '-m', 'tests.bench.bench_mongo_log', '--child', 'ours', str(path.relative_to(ROOT))])}"
    )
    print(
        f"floor: DuckDB read_json + count(id = 51803): {floor_s:.1f} s, {size_mb / floor_s:,.0f} MB/s, CPU {floor_cpu:.1f} s, peak RSS {floor_rss:,.0f} MB; runs: {walls['floor']} s"
    )
    print(f"    {floor['rows']:,} slow-query lines; SQL: {FLOOR_SQL.format(path=path.name)}")
    if ours["rows"] != facts["slow"] or floor["rows"] != facts["slow"]:
        print(f"!! counts differ: generated {facts['slow']:,}, ours {ours['rows']:,}, floor {floor['rows']:,}")
    ratio = ours_s / floor_s
    verdict = "meets" if ratio <= TARGET and peak_rss <= RSS_TARGET_MB else "MISSES"
    print(
        f"ours takes {ratio:.2f}x the floor (fastest of {len(runs['ours'])} each; CPU {ours_cpu / floor_cpu:.2f}x): "
        f"{verdict} the target (<= {TARGET:.0f}x, peak RSS <= {RSS_TARGET_MB:,} MB)"
    )


if __name__ == "__main__":
    main()
