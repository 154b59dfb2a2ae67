"""schemathesis against the OpenAPI document: generated requests (valid and invalid, with each
role's token, for real and for made-up incident ids) never get a 5xx. (It found one: the live
stream's subscriber set held an unhashable dataclass.)

Driven through schemathesis's strategies rather than its pytest plugin, which does not load
under this pytest (it reads a private `_nodeid`)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from schemathesis.generation import GenerationMode

from monitor.web.auth import Users
from monitor.web.status import create_app
from tests.web.conftest import World, auth

MAX_EXAMPLES = 40


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error(world: World, users: Users, mode: GenerationMode) -> None:
    app = create_app(
        world.store, CollectorRegistry(), users=users, send=world.send, clock=lambda: world.now
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # the live stream never ends, which this synchronous client cannot read: test_live.py
    operations = [op for op in (r.ok() for r in schema.get_all_operations())
                  if op.path != "/api/stream"]  # fmt: skip
    assert len(operations) >= 10
    ids = st.sampled_from([world.blast.id, world.school.id])
    for operation in operations:
        path = {"incident_id": ids} if "{incident_id}" in operation.path else None
        cases = st.one_of(
            operation.as_strategy(mode),
            # a real incident too, so generated actions reach the recording path
            st.builds(lambda i, c: (c.path_parameters.update(incident_id=i), c)[1], ids,
                      operation.as_strategy(mode)) if path else operation.as_strategy(mode),
        )  # fmt: skip

        @given(case=cases)
        @settings(
            max_examples=MAX_EXAMPLES, deadline=None, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def check(case: schemathesis.Case) -> None:
            for who in ("duty", "emergency", "leader"):
                response = case.call(headers={**(case.headers or {}), **auth(who)})
                assert response.status_code < 500, (
                    who, case.method, case.formatted_path, case.body, response.text,
                )  # fmt: skip

        check()
