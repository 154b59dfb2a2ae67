"""docker-compose.yml cannot be run here (no Docker engine), so check what can be checked:
every service's command is a real `monitor` subcommand with the right flags, ports agree with the
Prometheus scrape config, mounted paths exist, and `docker-compose config` accepts the file."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from connectors.config import load_sources
from monitor.cli.main import build_parser
from tests.dashboards.conftest import PROM_DIR, ROOT, load_yaml, skip_or_fail

COMPOSE = ROOT / "docker-compose.yml"


def services() -> dict[str, dict[str, Any]]:
    return dict(load_yaml(COMPOSE)["services"])


def parsed(name: str) -> argparse.Namespace:
    command = services()[name]["command"]
    assert command[0] == "monitor", f"{name}: {command}"
    try:
        args = build_parser().parse_args([str(a) for a in command[1:]])
    except SystemExit as exc:
        raise AssertionError(f"{name}: `{' '.join(map(str, command))}` is refused") from exc
    assert callable(getattr(args, "func", None)), f"{name}: no subcommand ran"
    return args


def bind_mounts() -> list[tuple[str, Path, str]]:
    mounts = []
    for name, svc in services().items():
        for volume in svc.get("volumes", []):
            host, container = volume.split(":")[:2]
            if host.startswith("./"):
                mounts.append((name, ROOT / host, container))
    return mounts


def scrape_targets() -> dict[str, set[str]]:
    """job → host:port set from prometheus-compose.yml (static targets and dns_sd names)."""
    config = load_yaml(PROM_DIR / "prometheus-compose.yml")
    found: dict[str, set[str]] = {}
    for job in config["scrape_configs"]:
        targets = found.setdefault(job["job_name"], set())
        for static in job.get("static_configs", []):
            targets.update(static["targets"])
        for dns in job.get("dns_sd_configs", []):
            (host,) = dns["names"]
            targets.add(f"{host}:{dns['port']}")
    return found


@pytest.mark.parametrize("name", ["web", "worker", "sources", "notifier"])
def test_every_project_service_runs_a_real_monitor_subcommand(name: str) -> None:
    svc = services()[name]
    assert svc["build"] == "."
    parsed(name)


def test_a_wrong_flag_would_be_caught() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--brokers", "kafka://kafka:9092"])


def test_web_and_workers_share_broker_store_and_partitions() -> None:
    web, worker = parsed("web"), parsed("worker")
    assert web.broker == worker.broker == "kafka://kafka:9092"
    assert web.db == worker.db and web.db.startswith("postgresql+psycopg://")
    assert web.partitions == worker.partitions
    assert web.no_demo
    assert worker.live, "workers must tick clocks on wall time"


def test_scrape_targets_match_the_services_ports() -> None:
    targets = scrape_targets()
    assert set(targets) == {"monitor", "worker", "sources", "notifier"}
    for job, found in targets.items():
        for target in found:
            assert target.split(":")[0] in services(), f"{job}: {target} is not a compose service"
    web = parsed("web")
    assert targets["monitor"] == {f"web:{web.port}"}
    # the worker replicas, and the worker `monitor run` runs beside the web process
    assert targets["worker"] == {f"worker:{parsed('worker').port}", f"web:{web.worker_port}"}
    assert web.port != web.worker_port
    for name in ("web", "worker"):  # inside a container 127.0.0.1 is the container's own
        assert parsed(name).host == "0.0.0.0", f"{name} must listen beyond its container"
    sources = parsed("sources")
    assert sources.host == "0.0.0.0", "the sources runner must listen beyond its container"
    assert targets["sources"] == {f"sources:{sources.port}"}
    notifier = parsed("notifier")
    assert notifier.host == "0.0.0.0" and targets["notifier"] == {f"notifier:{notifier.port}"}


def test_mounted_paths_exist() -> None:
    mounts = bind_mounts()
    assert len(mounts) == 4
    for name, host, _ in mounts:
        assert host.exists(), f"{name}: {host} does not exist"


def test_prometheus_and_grafana_mounts_hold_what_they_are_told_to_read() -> None:
    by_container = {container: host for _, host, container in bind_mounts()}
    config_flag = next(
        a for a in services()["prometheus"]["command"] if a.startswith("--config.file=")
    )
    config_path = config_flag.split("=", 1)[1]
    host_dir = by_container[str(Path(config_path).parent)]
    assert (host_dir / Path(config_path).name).is_file()
    provisioning = by_container["/etc/grafana/provisioning"]
    provider = load_yaml(provisioning / "dashboards" / "yuqing.yml")["providers"][0]
    dashboards = by_container[provider["options"]["path"]]
    assert {p.name for p in dashboards.glob("*.json")} >= {"yuqing-duty.json"}
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards / Path(home).name).is_file()


def test_the_deployment_sources_file_is_valid() -> None:
    host = next(h for name, h, _ in bind_mounts() if name == "sources")
    assert load_sources(host).sources


def test_dockerfile_copies_the_packages_the_project_installs() -> None:
    copied = {
        source
        for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
    }
    assert copied == {"pyproject.toml", "README.md", "monitor", "streams", "connectors"}
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert not copied & ignored
    for path in copied:
        assert (ROOT / path).exists()


def test_docker_compose_accepts_the_file() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        skip_or_fail("docker-compose is not on PATH (Debian package docker-compose)")
        return
    env = {**os.environ, "GRAFANA_ADMIN_PASSWORD": "test-only"}
    done = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
