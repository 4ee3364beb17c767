"""Source `probes` (placeholder until its issue lands; registers nothing yet)."""
