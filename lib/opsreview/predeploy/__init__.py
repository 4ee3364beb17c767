"""The pre-deployment go/no-go (`opsreview predeploy`): not a review area but a gate run
before a deploy, over the kernel (params, mongo, secrets) and the probes area's round.

``params`` (the ``predeploy`` section) → ``environment``, ``database``, ``smoke``,
``security``, ``external`` (backups, alerts), ``rollback`` (one check each) → ``gate`` (GO or
NO-GO, :class:`~opsreview.predeploy.models.GateResult`) → ``report`` (``predeploy.json``, a
page, ``latest.json``; :func:`latest_result`) → ``cli``. The notebook ``predeploy.ipynb``
calls the same :func:`~opsreview.predeploy.gate.run_predeploy`; ``opsreview run`` never
executes it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["latest_result"]


def __getattr__(name: str) -> Any:
    # Imported on use: the params root imports this package's params, and the report module
    # pulls in the exporter, which `load_params` must not pay for.
    if name == "latest_result":
        from opsreview.predeploy.report import latest_result

        return latest_result
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
