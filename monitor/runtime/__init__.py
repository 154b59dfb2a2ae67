"""Process-level edges: the bundled broker, the data directory, `monitor run` orchestration."""
