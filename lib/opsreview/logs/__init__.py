"""The log areas: access logs (area ``logs``, :mod:`opsreview.logs.access`) and application
logs (area ``errors``, :mod:`opsreview.logs.app`).

Both read log files the same way (:mod:`~opsreview.logs.files`: files, globs, folders, rotated
and gzip files), share their params (:mod:`~opsreview.logs.params`, thresholds in
:mod:`~opsreview.logs.thresholds`), time parsing (:mod:`~opsreview.logs.timestamps`), the
baseline comparison (:mod:`~opsreview.logs.baseline`), findings on logging itself
(:mod:`~opsreview.logs.health`), evidence formatting (:mod:`~opsreview.logs.evidence`), charts
(:mod:`~opsreview.logs.charts`), the sectioned review (:mod:`~opsreview.logs.review`) and the
``opsreview logs`` subcommand (:mod:`~opsreview.logs.access.cli`).
"""
