"""`GET /api/incidents/{id}` lists the incident's notifications with their delivery state, from
the notifier's outbox: sent, held by quiet hours until a time, failed (main showed none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.domain.outbox import intents_for
from monitor.notify.bootstrap import create_notifier
from monitor.notify.message import from_intent
from monitor.web.auth import Users
from monitor.web.status import create_app
from tests.web.conftest import SCHOOL, World, api_client, auth, open_incident

NIGHT = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 23:00 in Ziyang


async def test_the_incident_page_shows_sent_and_held_notifications(
    tmp_path: Path, users: Users, registry: CollectorRegistry
) -> None:
    world = World(tmp_path)
    state, events = open_incident("p-night", SCHOOL, NIGHT)  # grade III food poisoning
    world.store.save_states([state])
    notifier = create_notifier(f"sqlite:///{tmp_path / 'notify.db'}", CollectorRegistry(),
                               dry_run=True, clock=lambda: NIGHT)  # fmt: skip
    for intent in intents_for(state, events):  # type: ignore[arg-type]
        notifier.submit(from_intent(intent))
    await notifier.run_once()
    app = create_app(world.store, registry, users=users,
                     clock=lambda: NIGHT + timedelta(minutes=1), outbox=notifier.outbox)  # fmt: skip
    async with api_client(app) as c:
        detail = (await c.get(f"/api/incidents/{state.id}", headers=auth("duty"))).json()
    notes = detail["notifications"]
    assert {n["state"] for n in notes} == {"sent", "held"}
    held = [n for n in notes if n["state"] == "held"]
    assert all(n["until"] == "2026-11-25T23:30:00+00:00" for n in held)
    assert all(n["state_label"] == "静默时段暂缓" for n in held)
    assert any("市政府总值班室" in n["to"] for n in notes if n["state"] == "sent")
    assert {n["step"] for n in notes} == {"opened"}
    world.store.close()


async def test_without_an_outbox_the_list_is_empty(
    world: World, users: Users, registry: CollectorRegistry
) -> None:
    app = create_app(world.store, registry, users=users, clock=lambda: world.now)
    async with api_client(app) as c:
        detail = (await c.get(f"/api/incidents/{world.blast.id}", headers=auth("duty"))).json()
    assert detail["notifications"] == []
