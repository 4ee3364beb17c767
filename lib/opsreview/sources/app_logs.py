"""Source `app_logs` (placeholder until its issue lands; registers nothing yet)."""
