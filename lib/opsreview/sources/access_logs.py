"""Source `access_logs` (placeholder until its issue lands; registers nothing yet)."""
