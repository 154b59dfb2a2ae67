"""`monitor replay`: history replayed in a sandbox on the worker's own stages, in event time;
incidents.json, the Chinese HTML report and what-if comparisons (docs/ARCHITECTURE.md)."""
