"""Read the store's incident log into compliance cases: each incident's state (its actions and
the clocks as the domain judged them) and its `deadline_breached` events. No figure is kept
anywhere else; the report is recomputed from these rows every time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import msgspec
import sqlalchemy as sa

from monitor.domain.compliance import Case, Period, Report, case_of, compliance
from monitor.domain.events import Event, EventKind
from monitor.domain.state import IncidentState
from monitor.store import Store, schema

_event = msgspec.json.Decoder(Event)


def breach_events(store: Store) -> dict[str, list[Event]]:
    t = schema.events
    q = sa.select(t.c.body).where(t.c.kind == EventKind.DEADLINE_BREACHED.value).order_by(t.c.seq)
    found: dict[str, list[Event]] = defaultdict(list)
    with store.engine.connect() as conn:
        for (body,) in conn.execute(q):
            e = _event.decode(body)
            found[e.incident_id].append(e)
    return found


def cases(
    states: Iterable[IncidentState], breaches: Mapping[str, Sequence[Event]], now: datetime
) -> list[Case]:
    return [case_of(s, breaches.get(s.id, ()), now) for s in states]


def report(
    store: Store, period: Period, now: datetime, body: str | None = None,
    previous: Period | None = None,
) -> Report:  # fmt: skip
    states = [r.state for r in store.incidents()]
    return compliance(cases(states, breach_events(store), now), period, now, body, previous)
