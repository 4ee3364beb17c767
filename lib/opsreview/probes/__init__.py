"""Probes: health, latency, TLS and the production checklist's HTTP security checks.

``runner`` runs a round over the targets of the ``probes`` params section; ``client`` is the
bounded HTTP client; one module per check family (``http``, ``tls``, ``headers``, ``cors``,
``auth``, ``rate_limit``, ``leakage``, ``exposure``) adds :class:`~opsreview.probes.models.ProbeResult`
rows; ``review`` and ``charts`` are what the probes notebook shows.
"""
