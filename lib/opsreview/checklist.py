"""The production checklist as data: every item of the system's own checklist, its section,
whether the team marked it done, and which review area and check ids speak to it.

The items are those of ``shared/reference/production-checklist.md`` (a copy is kept in
``tests/reference/``; a test fails when the two differ from this module). Every item has a
mapping: either a *verifier* (``area``: a review area, or ``predeploy`` — the go/no-go run
before a deploy — or ``alerts`` — the notifications of the day's run) and the check ids of the
findings that bear on it, or no verifier, which makes it an item no machine can check: it is
*attested* by a person (``checklist.attestations`` in params: who, when, a note), and an
attestation expires (then the item reads *overdue*). A finding names the items it bears on in
``Finding.checklist``. :mod:`opsreview.run.checklist_view` turns a day's findings, coverage,
the last pre-deployment result and the attestations into each item's status with evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChecklistItem:
    section: str
    text: str
    done: bool  # "[x]" in the team's checklist: built, not necessarily working today
    area: str | None = None  # the review area whose run verifies it
    checks: tuple[str, ...] = ()  # check ids of findings that bear on it

    @property
    def attested(self) -> bool:
        """No machine checks this item: a person attests it (``checklist.attestations``)."""
        return self.area is None

    @property
    def remedy(self) -> str:
        """What to configure so that this item can be checked (or attested)."""
        if self.area is None:
            return (
                "no source can check this item: record an attestation in params "
                f"(checklist.attestations: item {self.text!r}, by, date, note)"
            )
        return HOW_TO_VERIFY.get(self.area, f"configure the {self.area} review in params")


# Who checks the items that are not a review area's, and what each verifier needs.
VERIFIERS = ("predeploy", "alerts")
HOW_TO_VERIFY = {
    "logs": "configure logs.access (the API's morgan access logs) in params",
    "errors": "configure logs.app (the application's error logs) in params",
    "probes": "configure probes (targets of the health and security probes) in params",
    "database": "configure database (a read-only MongoDB login by ${ENV}, snapshots by cron) in params",
    "payments": "configure payments (Stripe by ${ENV}, event exports or the app's payment collections) in params",
    "backups": "configure backups (mongodump archives, PBM status, the backup job's manifest, restore drills) in params",
    "predeploy": "run `opsreview predeploy --params P` before each deploy (predeploy section in params)",
    "alerts": "configure alerts.channels (apprise URLs by ${ENV}) in params; `opsreview notify --test` checks them",
}


def _items(section: str, *rows: tuple[Any, ...]) -> list[ChecklistItem]:
    """The items of one section, from rows of (text, done[, area[, checks]])."""
    return [ChecklistItem(section, *row) for row in rows]


_LOGGING = ("logs.gap", "logs.volume_drop", "logs.unparsed", "logs.file_error", "logs.no_data")
_ERROR_LOGGING = ("errors.gap", "errors.volume_drop", "errors.unparsed", "errors.file_error", "errors.no_data")
_ERROR_TRACKING = ("errors.new_fingerprint", "errors.spike", "errors.fatal")
_DB_POOL = ("database.connections", "database.connection_churn")
_BACKUPS = (
    "backups.rpo",
    "backups.schedule_gap",
    "backups.size_drop",
    "backups.failed",
    "backups.archive_unreadable",
    "backups.archive_truncated",
    "backups.collections_missing",
    "backups.manifest_mismatch",
    "backups.pbm_node",
    "backups.pitr_gap",
    "backups.pitr_error",
    "backups.bad_input",
)
_DRILLS = ("backups.drill_age", "backups.drill_failed")
_BACKUP_STRATEGY = (
    "backups.rpo",
    "backups.schedule_gap",
    "backups.collections_missing",
    "backups.pbm_node",
    "backups.pitr_gap",
    "backups.pitr_error",
)

ITEMS: tuple[ChecklistItem, ...] = tuple(
    _items(
        "Security",
        ("JWT authentication with secure tokens", True, "probes", ("probes.auth", "logs.secret_in_url")),
        ("Password hashing with bcrypt", True, "database", ("database.password_hash",)),
        ("Input validation on all endpoints", True),
        (
            "Rate limiting implemented",
            True,
            "probes",
            ("probes.rate_limit", "logs.429_surge", "logs.auth_failure_burst"),
        ),
        ("Helmet security headers", True, "probes", ("probes.headers",)),
        ("CORS properly configured", True, "probes", ("probes.cors",)),
        ("SQL injection protection (Mongoose)", True),
        ("XSS protection (input sanitization)", True),
        ("Role-based access control", True, "probes", ("probes.rbac",)),
        ("Soft deletes for data retention", True, "database", ("database.soft_delete",)),
        ("Error messages don't leak sensitive info", True, "probes", ("probes.leakage", "logs.secret_in_url")),
        ("HTTPS/SSL certificate", False, "probes", ("probes.tls", "probes.tls_expiry", "probes.https")),
        ("Environment variables secured", False, "probes", ("probes.exposure", "logs.scanner_exposure")),
        ("API keys stored securely", False, "logs", ("logs.secret_in_url",)),
        ("Regular security audits", False),
    )
    + _items(
        "Performance",
        ("Database indexes on all query fields", True, "database", ("database.collscan", "database.index_suggestion")),
        ("Pagination on list endpoints", True),
        ("Query optimization (select only needed fields)", True, "database", ("database.no_projection",)),
        (
            "Efficient MongoDB queries",
            True,
            "database",
            (
                "database.slow_shape",
                "database.new_slow_shape",
                "database.collscan",
                "database.long_op",
                "database.oversize_docs",
            ),
        ),
        ("Connection pooling (Mongoose default)", True, "database", _DB_POOL),
        ("Redis caching (structure ready)", False),
        ("CDN for static files", False),
        (
            "Database query monitoring",
            False,
            "database",
            ("database.slow_shape", "database.new_slow_shape", "database.slow_shape_regression"),
        ),
        ("Performance testing", False),
    )
    + _items(
        "Scalability",
        ("Stateless API design", True),
        ("Horizontal scaling ready", True),
        ("Database connection pooling", True, "database", _DB_POOL),
        ("Async/await for non-blocking operations", True),
        ("Load balancing configuration", False),
        (
            "Database replication",
            False,
            "database",
            ("database.repl_lag", "database.member_unhealthy", "database.oplog_window", "database.standalone"),
        ),
        ("Caching layer (Redis)", False),
        ("Message queue for background jobs", False),
    )
    + _items(
        "Code Quality",
        ("Clean architecture (MVC + Service Layer)", True),
        ("Separation of concerns", True),
        ("Reusable services", True),
        ("Error handling", True),
        ("Input validation", True),
        ("Consistent code style", True),
        ("Unit tests", False),
        ("Integration tests", False),
        ("Code coverage > 80%", False),
    )
    + _items(
        "Monitoring & Logging",
        (
            "Morgan HTTP logging",
            True,
            "logs",
            (
                *_LOGGING,
                "logs.access_file_damaged",
                "logs.access_file_unparsed",
                "logs.access_path_missing",
                "logs.secret_in_url",
            ),
        ),
        ("Error logging", True, "errors", (*_ERROR_LOGGING, "errors.app_log_missing", *_ERROR_TRACKING)),
        ("Application performance monitoring (APM)", False),
        ("Error tracking (Sentry, etc.)", False, "errors", _ERROR_TRACKING),
        ("Log aggregation", False),
        (
            "Health check endpoint",
            False,
            "probes",
            ("probes.outage", "probes.uptime", "probes.latency", "probes.gap", "probes.no_data"),
        ),
        ("Metrics collection", False),
    )
    + _items(
        "Database",
        (
            "MongoDB indexes",
            True,
            "database",
            ("database.collscan", "database.index_suggestion", "database.unused_index", "database.redundant_index"),
        ),
        ("Soft deletes", True, "database", ("database.soft_delete",)),
        ("Data validation", True, "database", ("database.no_validator",)),
        ("Database backups", False, "backups", _BACKUPS),
        ("Backup restoration tested", False, "backups", (*_DRILLS, "backups.bad_input")),
        ("Database migration strategy", False, "predeploy", ("predeploy.migrations",)),
        ("Connection retry logic", False, "database"),
    )
    + _items(
        "Payment Integration",
        ("Payment structure ready", True),
        (
            "Webhook handler structure",
            True,
            "payments",
            (
                "payments.webhook_failures",
                "payments.webhook_pending",
                "payments.webhook_lag",
                "payments.webhook_handled_twice",
            ),
        ),
        (
            "Real payment gateway integration",
            False,
            "payments",
            (
                "payments.stuck",
                "payments.paid_without_payment",
                "payments.payment_without_order",
                "payments.double_charge",
                "payments.amount_mismatch",
                "payments.refund_unmatched",
                "payments.test_mode",
            ),
        ),
        ("Payment testing", False, "payments"),
        ("PCI compliance", False, "payments", ("payments.pan_exposure", "payments.sensitive_field")),
        ("Payment webhook security", False, "payments", ("payments.webhook_signature",)),
    )
    + _items(
        "File Upload",
        ("File validation", True),
        ("Size limits", True),
        ("Type restrictions", True),
        ("Cloud storage integration (S3, Cloudinary)", False),
        ("Image optimization", False),
        ("CDN for uploads", False),
    )
    + _items(
        "Documentation",
        ("API documentation", True),
        ("README with setup instructions", True),
        ("Environment variables documented", True),
        ("Deployment guide", False),
        ("Architecture diagram", False),
        ("API examples", False),
    )
    + _items(
        "Pre-Deployment",
        ("All environment variables set", False, "predeploy", ("predeploy.env",)),
        ("Database connection tested", False, "predeploy", ("predeploy.database",)),
        ("All endpoints tested", False, "predeploy", ("predeploy.smoke",)),
        ("Load testing completed", False),
        ("Security scan passed", False, "predeploy", ("predeploy.security",)),
        ("Backup strategy in place", False, "backups", (*_BACKUP_STRATEGY, "predeploy.backup")),
        ("Rollback plan ready", False, "predeploy", ("predeploy.rollback",)),
        (
            "Monitoring tools configured",
            False,
            "alerts",
            ("predeploy.alerts", "alerts.delivery_failed", "alerts.not_configured"),
        ),
    )
    + _items(
        "Post-Deployment",
        ("Monitor error rates", False, "logs", ("logs.5xx_rate", "logs.5xx_burst")),
        ("Monitor response times", False, "logs", ("logs.p95_route", "logs.p95_regression")),
        (
            "Monitor database performance",
            False,
            "database",
            (
                "database.slow_shape",
                "database.slow_shape_regression",
                "database.connections",
                "database.cache",
                "database.queue",
                "database.long_op",
                "database.disk_full",
            ),
        ),
        (
            "Monitor payment transactions",
            False,
            "payments",
            (
                "payments.auth_rate",
                "payments.auth_rate_hour",
                "payments.volume_drop",
                "payments.decline_spike",
                "payments.abandonment",
                "payments.dispute_rate",
                "payments.refund_rate",
                "payments.webhook_failures",
                "payments.stuck",
                "payments.double_charge",
                "payments.incomplete_pull",
            ),
        ),
        (
            "Review logs daily",
            False,
            "logs",
            (*_LOGGING, "logs.scanner", "logs.scanner_exposure", "logs.auth_failure_burst", "logs.429_surge"),
        ),
        ("Set up alerts", False, "alerts", ("alerts.delivery_failed", "alerts.not_configured")),
        ("Regular backups verified", False, "backups", (*_BACKUPS, *_DRILLS)),
    )
)

BY_TEXT: dict[str, ChecklistItem] = {item.text: item for item in ITEMS}

# Checks that speak to no checklist item: the review's own health. (``<area>.coverage`` speaks
# to the items of its own area that it could not check today: they show as not verifiable.)
NO_ITEM_CHECKS = ("source_failed", "notebook_failed", "excess_privileges", "collector_error", "no_auth")


def sections() -> list[str]:
    """The checklist's sections, in order."""
    return list(dict.fromkeys(item.section for item in ITEMS))


def tracked_items() -> list[ChecklistItem]:
    """The items a machine verifies (a review area, the pre-deployment run or the alerts), in
    checklist order; the others are attested."""
    return [item for item in ITEMS if item.area is not None]


def items_of_area(area: str) -> list[ChecklistItem]:
    """The items an area verifies (its summary rows)."""
    return [item for item in ITEMS if item.area == area]


def item(text: str) -> ChecklistItem:
    """The item of that exact text; KeyError names it when it is not on the checklist."""
    try:
        return BY_TEXT[text]
    except KeyError:
        raise KeyError(f"not a production-checklist item: {text!r}") from None
