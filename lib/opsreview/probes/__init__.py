"""Area ``probes``: health, latency, TLS and the production checklist's HTTP security checks.

``params`` (targets and thresholds) → ``round`` (one round over every due target, on the
bounded HTTP ``client``; each target's state in ``target``, its checks in ``checks/``) →
``source`` (results appended to / read from the `probe_results` table; ``prometheus`` reads
blackbox_exporter results instead) → ``analysis`` (uptime, outages, percentiles, the security
matrix) → ``findings`` → ``review`` and ``charts`` (what the `probes` notebook shows); ``cli`` is
`opsreview probe`. ``models`` holds the result model and the table's schema.
"""
