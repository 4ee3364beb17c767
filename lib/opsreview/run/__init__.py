"""`opsreview run` as named steps (:mod:`~opsreview.run.steps`), notebook execution
(:mod:`~opsreview.run.execute`), the reports and ``summary.json`` (:mod:`~opsreview.run.report`)
and the summary notebook's roll-up (:mod:`~opsreview.run.summary`)."""
