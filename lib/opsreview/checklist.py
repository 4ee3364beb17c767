"""The production checklist as data: every item of the system's own checklist, its section,
whether the team marked it done, and which review area and check ids speak to it.

The items are those of ``shared/reference/production-checklist.md`` (a copy is kept in
``tests/reference/``; a test fails when the two differ from this module). A finding names the
items it bears on in ``Finding.checklist``; the summary shows each item that has an ``area`` as
*failing* (a finding at warning or above), *verified* (its area ran and found nothing) or *not
verifiable* (its area did not run, or said it could not check the item today), with evidence.
Items without an area are ones no review speaks to yet: a new area claims them by setting
``area=`` and its check ids here.
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


def _items(section: str, *rows: tuple[Any, ...]) -> list[ChecklistItem]:
    """The items of one section, from rows of (text, done[, area[, checks]])."""
    return [ChecklistItem(section, *row) for row in rows]


_LOGGING = ("logs.gap", "logs.volume_drop", "logs.unparsed", "logs.file_error", "logs.no_data")
_ERROR_LOGGING = ("errors.gap", "errors.volume_drop", "errors.unparsed", "errors.file_error", "errors.no_data")
_ERROR_TRACKING = ("errors.new_fingerprint", "errors.spike", "errors.fatal")
_DB_POOL = ("database.connections", "database.connection_churn")

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
        ("API keys stored securely", False, None, ("logs.secret_in_url",)),
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
        ("Database backups", False),
        ("Backup restoration tested", False),
        ("Database migration strategy", False),
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
        ("All environment variables set", False),
        ("Database connection tested", False),
        ("All endpoints tested", False),
        ("Load testing completed", False),
        ("Security scan passed", False),
        ("Backup strategy in place", False),
        ("Rollback plan ready", False),
        ("Monitoring tools configured", False, None, ("alerts.delivery_failed", "alerts.not_configured")),
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
        # backups have no package yet: their items are "not verifiable" until one lands
        (
            "Review logs daily",
            False,
            "logs",
            (*_LOGGING, "logs.scanner", "logs.scanner_exposure", "logs.auth_failure_burst", "logs.429_surge"),
        ),
        ("Set up alerts", False, None, ("alerts.delivery_failed", "alerts.not_configured")),
        ("Regular backups verified", False, "backups"),
    )
)

BY_TEXT: dict[str, ChecklistItem] = {item.text: item for item in ITEMS}

# Checks that speak to no checklist item: the review's own health. (``<area>.coverage`` speaks
# to the items of its own area that it could not check today: they show as not verifiable.)
NO_ITEM_CHECKS = ("source_failed", "notebook_failed", "excess_privileges", "collector_error", "no_auth")


def tracked_items() -> list[ChecklistItem]:
    """The items some area verifies, in checklist order (the summary's rows)."""
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
