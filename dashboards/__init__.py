"""Grafana dashboards as code, Prometheus config and alert rules (not part of the package)."""
