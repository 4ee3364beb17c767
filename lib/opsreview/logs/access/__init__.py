"""Area ``logs``: morgan / JSON HTTP access logs, from pull to judgement.

``morgan`` (formats) → ``parse`` (one file into rows) → ``source`` (pull into the `requests`
table) → ``routes`` / ``analysis`` / ``abuse`` (pure functions over relations) → ``findings``
→ ``review`` (what the `logs` notebook calls); ``quicklook`` is `opsreview logs summary`.
"""
