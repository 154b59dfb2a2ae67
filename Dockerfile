# The project image for docker-compose.yml: every service (web, worker, sources, notifier) runs
# a `monitor` subcommand from it. Not built on the development machine (no Docker engine there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY streams ./streams
COPY connectors ./connectors
RUN pip install . && rm -rf /build

# An unprivileged user; the data dir is where `monitor run` keeps runtime.json.
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/monitor monitor
USER monitor
WORKDIR /var/lib/monitor
ENV MONITOR_DATA_DIR=/var/lib/monitor

CMD ["monitor", "--help"]
