"""The store tables of the database area: names and Arrow schemas (the contract between the
collector, the log reader, the demo and the review).

Every table has ``ts`` (UTC, when the fact was observed: the snapshot time, or the log line's
time for slow queries) and ``host`` (the ``host:port`` the collector was connected to, or
the host a log file belongs to). Days are the review timezone's local days of ``ts``.
Nothing here holds a query value, a password hash or a connection string: commands are kept
as *shapes* (values replaced by ``1``) and hygiene as counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
_S, _I, _F, _B = pa.string(), pa.int64(), pa.float64(), pa.bool_()


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([("ts", TS), ("host", _S), *fields])


# One row per snapshot: serverStatus flattened (counters are cumulative since the server
# started: rates come from two snapshots, see analysis.rates), plus the oplog window.
SERVER = "db_server"
SERVER_SCHEMA = _schema(
    ("set_name", _S),  # replica set name, None when standalone/mongos
    ("role", _S),  # standalone | primary | secondary | arbiter | mongos | other
    ("version", _S),
    ("uptime_s", _F),
    ("conn_current", _I),
    ("conn_available", _I),
    ("conn_total_created", _I),
    ("op_insert", _I),
    ("op_query", _I),
    ("op_update", _I),
    ("op_delete", _I),
    ("op_getmore", _I),
    ("op_command", _I),
    ("repl_insert", _I),
    ("repl_update", _I),
    ("repl_delete", _I),
    ("lat_reads_us", _I),
    ("lat_reads_ops", _I),
    ("lat_writes_us", _I),
    ("lat_writes_ops", _I),
    ("lat_commands_us", _I),
    ("lat_commands_ops", _I),
    ("lat_transactions_us", _I),
    ("lat_transactions_ops", _I),
    ("cache_bytes", _I),  # wiredTiger.cache["bytes currently in the cache"]
    ("cache_max_bytes", _I),  # ["maximum bytes configured"]
    ("cache_dirty_bytes", _I),  # ["tracked dirty bytes in the cache"]
    ("cache_read_into_bytes", _I),  # ["bytes read into cache"]
    ("cache_written_from_bytes", _I),  # ["bytes written from cache"]
    ("queue_total", _I),  # globalLock.currentQueue
    ("queue_readers", _I),
    ("queue_writers", _I),
    ("active_readers", _I),  # globalLock.activeClients
    ("active_writers", _I),
    ("asserts_regular", _I),
    ("asserts_warning", _I),
    ("asserts_msg", _I),
    ("asserts_user", _I),
    ("asserts_rollovers", _I),
    ("net_bytes_in", _I),
    ("net_bytes_out", _I),
    ("net_requests", _I),
    ("page_faults", _I),  # extra_info.page_faults
    ("txn_current_active", _I),
    ("txn_current_open", _I),
    ("txn_total_committed", _I),
    ("txn_total_aborted", _I),
    ("oplog_first", TS),  # first and last ts of local.oplog.rs (replica set members)
    ("oplog_last", TS),
)

# dbStats per database.
DATABASES = "db_databases"
DATABASES_SCHEMA = _schema(
    ("db", _S),
    ("collections", _I),
    ("views", _I),
    ("objects", _I),
    ("avg_obj_size", _F),
    ("data_size", _I),
    ("storage_size", _I),
    ("indexes", _I),
    ("index_size", _I),
    ("fs_used_size", _I),  # fsUsedSize / fsTotalSize: the disk the data lives on
    ("fs_total_size", _I),
)

# $collStats storageStats + listCollections options, per collection.
COLLECTIONS = "db_collections"
COLLECTIONS_SCHEMA = _schema(
    ("ns", _S),
    ("db", _S),
    ("coll", _S),
    ("type", _S),  # collection | view | timeseries
    ("count", _I),  # estimated (storageStats.count), never a scan
    ("size", _I),
    ("avg_obj_size", _F),
    ("storage_size", _I),
    ("free_storage_size", _I),
    ("total_index_size", _I),
    ("capped", _B),
    ("has_validator", _B),
    ("validation_level", _S),  # off | strict | moderate; None when no validator
    ("validation_action", _S),  # error | warn | errorAndLog
)

# listIndexes + $indexStats, per index (counters are per node, reset on restart).
INDEXES = "db_indexes"
INDEXES_SCHEMA = _schema(
    ("ns", _S),
    ("name", _S),
    ("key", _S),  # the key document as JSON, field order kept: {"userId": 1, "createdAt": -1}
    ("ops", _I),  # accesses.ops since `since`; None when $indexStats was not readable
    ("since", TS),
    ("size_bytes", _I),  # storageStats.indexSizes[name]
    ("unique", _B),
    ("sparse", _B),
    ("hidden", _B),
    ("partial", _B),
    ("ttl_seconds", _F),  # expireAfterSeconds; None when not a TTL index
    ("building", _B),
    ("collation", _S),  # the collation's locale; None: simple binary comparison
)

# replSetGetStatus members, as seen by the node the collector reached.
MEMBERS = "db_members"
MEMBERS_SCHEMA = _schema(
    ("set_name", _S),
    ("member", _S),  # host:port
    ("state", _I),
    ("state_str", _S),
    ("health", _F),
    ("optime", TS),
    ("lag_s", _F),  # primary optimeDate - member optimeDate; None when no primary
    ("last_heartbeat", TS),
    ("is_self", _B),
)

# $currentOp operations running longer than database.current_op.min_secs.
CURRENT_OPS = "db_current_ops"
CURRENT_OPS_SCHEMA = _schema(
    ("opid", _S),
    ("op", _S),
    ("ns", _S),
    ("secs_running", _F),
    ("plan_summary", _S),
    ("app_name", _S),
    ("shape", _S),  # the command with values masked (shapes.mask_command)
    ("waiting_for_lock", _B),
)

# Slow operations from structured logs (files or getLog) and system.profile.
SLOW_QUERIES = "db_slow_queries"
SLOW_QUERIES_SCHEMA = _schema(
    ("source", _S),  # a log file path, "getLog" or "profile:<db>"
    ("ns", _S),
    ("op", _S),  # find | aggregate | count | distinct | update | delete | insert | findAndModify | getMore | command
    ("shape_key", _S),  # queryShapeHash, else planCacheShapeHash/queryHash, else a hash of `shape`
    ("shape_key_kind", _S),  # queryShapeHash | planCacheShapeHash | queryHash | computed
    ("shape", _S),  # filter/sort/projection (or pipeline, update query) with values masked, JSON
    ("plan_summary", _S),
    ("duration_ms", _F),  # durationMillis (profile: millis)
    ("working_ms", _F),  # 8.0 workingMillis; None before 8.0
    ("docs_examined", _I),
    ("keys_examined", _I),
    ("nreturned", _I),
    ("n_modified", _I),
    ("has_sort_stage", _B),  # in-memory sort
    ("used_disk", _B),
    ("from_plan_cache", _B),
    ("app_name", _S),
    ("query_hash", _S),
    ("plan_cache_shape_hash", _S),
    ("query_shape_hash", _S),
    ("truncated", _B),  # the log line's attributes were truncated (maxLogSizeKB)
    ("example", _S),  # the whole command, values masked, at most 2 KB
)

# One row per structured log file read (what was counted, never a crash).
LOG_READS = "db_log_reads"
LOG_READS_SCHEMA = _schema(
    ("path", _S),
    ("lines", _I),
    ("slow_queries", _I),
    ("non_json", _I),  # lines that are not a JSON object (counted, skipped)
    ("truncated", _I),
    ("first_ts", TS),
    ("last_ts", TS),
)

# Sharding status when connected to mongos: one row per shard.
SHARDS = "db_shards"
SHARDS_SCHEMA = _schema(
    ("shard", _S),
    ("shard_host", _S),  # rs/host list with any credentials removed
    ("state", _I),
    ("chunks", _I),
    ("balancer_mode", _S),  # full | off
    ("balancer_running", _B),
)

# The collector's own login: its roles and what it holds beyond a read-only reviewer's needs.
PRIVILEGES = "db_privileges"
PRIVILEGES_SCHEMA = _schema(
    ("user", _S),  # user@db, never a password
    ("roles", _S),  # JSON list of "role@db"
    ("excess_roles", _S),  # JSON list: roles beyond clusterMonitor + read
    ("excess_actions", _S),  # JSON list: privilege actions that write or administer
    ("read_only", _B),
)

# Sampled data hygiene per collection (counts only: no value is kept).
HYGIENE = "db_hygiene"
HYGIENE_SCHEMA = _schema(
    ("ns", _S),
    ("sampled", _I),
    ("soft_delete_field", _S),  # deletedAt | isDeleted | deleted | ... ; None when none seen
    ("soft_deleted", _I),
    ("password_field", _S),  # the field that looks like a password hash; None when none
    ("password_values", _I),
    ("not_bcrypt", _I),  # not $2a/$2b/$2y$
    ("bcrypt_low_cost", _I),  # bcrypt with cost < hygiene.min_bcrypt_cost
    ("md5_like", _I),  # 32 hex characters (a subset of not_bcrypt): unsalted fast hashes
    ("other_strong", _I),  # argon2 / scrypt / pbkdf2 (a subset of not_bcrypt: strong, not bcrypt)
    ("max_doc_bytes", _I),
    ("oversize_docs", _I),  # over hygiene.max_doc_bytes
)

# A command the collector could not run (forbidden, timed out, not supported): a finding.
ERRORS = "db_collector_errors"
ERRORS_SCHEMA = _schema(
    ("command", _S),  # serverStatus, $indexStats shop.orders, ...
    ("code", _I),  # the server's error code (13 Unauthorized, 50 MaxTimeMSExpired, ...), None for network
    ("error", _S),  # one line, redacted
)

SCHEMAS: dict[str, pa.Schema] = {
    SERVER: SERVER_SCHEMA,
    DATABASES: DATABASES_SCHEMA,
    COLLECTIONS: COLLECTIONS_SCHEMA,
    INDEXES: INDEXES_SCHEMA,
    MEMBERS: MEMBERS_SCHEMA,
    CURRENT_OPS: CURRENT_OPS_SCHEMA,
    SLOW_QUERIES: SLOW_QUERIES_SCHEMA,
    LOG_READS: LOG_READS_SCHEMA,
    SHARDS: SHARDS_SCHEMA,
    PRIVILEGES: PRIVILEGES_SCHEMA,
    HYGIENE: HYGIENE_SCHEMA,
    ERRORS: ERRORS_SCHEMA,
}
SNAPSHOT_TABLES = tuple(t for t in SCHEMAS if t not in (SLOW_QUERIES, LOG_READS))


def to_arrow(table: str, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts; missing keys are nulls, unknown keys an error) as the table's Arrow table."""
    schema = SCHEMAS[table]
    names = set(schema.names)
    rows = list(rows)
    for row in rows:
        unknown = set(row) - names
        if unknown:
            raise ValueError(f"{table}: unknown column(s) {sorted(unknown)}")
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


def empty_frame(table: str) -> pd.DataFrame:
    return SCHEMAS[table].empty_table().to_pandas()
