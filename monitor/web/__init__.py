"""Minimal status page (Simplified Chinese) and /metrics."""
