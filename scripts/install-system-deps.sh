#!/usr/bin/env bash
# Debian packages the tests use: Chromium and its WebDriver for the dashboard tests (Selenium),
# a CJK font so screenshots of the Chinese pages are readable, Prometheus for scraping and
# promtool, docker-compose to validate docker-compose.yml (`config` only: it needs no engine),
# pg_dump for the PostgreSQL backup test, unshare for private read-only and tmpfs mounts.
# Installs only what is missing; needs root (or sudo) when something is.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || need+=(fonts-wqy-zenhei)
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v pg_dump >/dev/null || need+=(postgresql-client)  # `monitor backup` on PostgreSQL
command -v unshare >/dev/null || need+=(util-linux)  # read-only and full-disk storage tests
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
