"""Alerts: the day's findings sent to people, without repeats (Prometheus Alertmanager's model).

A kernel-level package, not a review area: it reads a day's ``summary.json`` (its findings) and
never imports an area. ``params`` (the ``alerts`` section) → ``rules`` (routing, inhibition,
repeat/resolve: pure) → ``message`` (the text) → ``deliver`` (apprise, one channel at a time,
within timeouts) → ``state`` (what was sent, in the store folder) → ``notify`` (the whole
notification of a day, and the test message) → ``cli`` (``opsreview notify``).
"""
