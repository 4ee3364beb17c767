"""The check families a probe round runs on a target, one module each: ``http``, ``tls``,
``headers``, ``cors``, ``auth``, ``rate_limit``, ``leakage`` and ``exposure`` (active)."""
