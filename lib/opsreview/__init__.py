"""opsreview: daily review of a production web API."""

__version__ = "0.1.0"
