"""The backups area: mongodump archives, Percona Backup for MongoDB and the team's backup
manifests against the RPO and schedule, archive readability and contents, and restore drills.

params → source (pull into the store) → analysis (pure) → findings → review → charts; the
archive format reader is :mod:`.archive`, the JSON inputs :mod:`.records`, the tables
:mod:`.models`, the demo data :mod:`.demo`."""
