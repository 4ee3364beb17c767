"""Area `payments`: transactions, declines, webhooks, reconciliation and PCI exposure.

Data flow: sources (:mod:`.stripe_source` - the gateway's events API through the official
``stripe`` SDK; :mod:`.export` - JSONL/CSV exports; :mod:`.app_db` - the app's own MongoDB
collections) normalise what they read into the tables of :mod:`.models` (amounts as integer
minor units with their currency, card numbers reduced to BIN + last four at ingest);
:mod:`.kpis`, :mod:`.webhooks` and :mod:`.reconcile` are pure functions over them;
:mod:`.findings` judges them; :mod:`.review` is what the notebook calls.
"""
