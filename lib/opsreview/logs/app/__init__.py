"""Area ``errors``: application logs (winston, pino, bunyan, ECS, text with stacks).

``parse`` (one file into events) → ``source`` (pull into the `app_events` table) →
``analysis`` (fingerprints, new and spiking) → ``findings`` → ``review`` (what the `errors`
notebook calls).
"""
