"""The composition root of a worker: config, store, sender and clock in; a wired app out.

    pipe = bootstrap(settings, load_config(path), store=Store(url))    # a real worker
    pipe = bootstrap(settings, config, send=memory.send, clock=fake)    # agent tests

Nothing below this module reads a file, the environment or the wall clock: the worker's
entry points (`monitor worker`, `monitor run`, the benchmarks) load the config and open the
store, tests pass fakes. `pipe.stages` are the agents' work without Faust, for an in-process
replay or a benchmark that wants the worker's exact code path with no broker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust

from monitor.config import CityConfig, incident_params
from monitor.metrics import Metrics
from monitor.service import Classifier
from monitor.store import Store
from monitor.topics import Topic
from streams.app import (
    Agents,
    Send,
    add_agents,
    add_ticker,
    declare_topics,
    make_app,
    make_table,
    producer_sender,
)
from streams.buckets import Buckets
from streams.processor import Processor, routing_router
from streams.records import Tick, encoder
from streams.settings import StreamSettings
from streams.sink import StoreWriter, add_sink
from streams.stages import ClassifyStage, Clock, Faults, IncidentStage, wall_clock


@dataclass(frozen=True)
class Stages:
    classify: ClassifyStage
    incidents: IncidentStage
    faults: Faults


@dataclass(frozen=True)
class Pipeline:
    app: faust.App
    settings: StreamSettings
    metrics: Metrics
    topics: dict[Topic, faust.TopicT]
    agents: Agents
    stages: Stages
    table: Any


def build_stages(
    config: CityConfig, buckets: Buckets, metrics: Metrics, clock: Clock, live: bool
) -> Stages:
    """The agents' work, wired to one config; usable with no Faust app at all."""
    classifier = Classifier.from_config(config)
    params = incident_params(config)
    home = config.jurisdiction.code
    processor = Processor(params, home, routing_router(classifier.routing))
    faults = Faults(metrics, clock)
    return Stages(
        classify=ClassifyStage(classifier, home, params, faults, metrics, clock),
        incidents=IncidentStage(processor, buckets, faults, metrics, clock, live),
        faults=faults,
    )


def bootstrap(
    settings: StreamSettings,
    config: CityConfig,
    *,
    store: Store | None = None,
    send: Send | None = None,
    clock: Clock = wall_clock,
    metrics: Metrics | None = None,
    on_app: Callable[[faust.App], None] | None = None,
) -> Pipeline:
    """`send`: where records go (default: Faust's producer); `store`: the store the sink
    agents write (none: this worker writes no store); `on_app`: attach more to the app (the
    status page, the notifier) before it starts."""
    m = metrics or Metrics.create()
    app = make_app(settings)
    topics = declare_topics(app, settings)
    table = make_table(app, settings)
    out = send or producer_sender(app, settings, table)
    stages = build_stages(config, Buckets(table.data), m, clock, settings.live)
    agents = add_agents(
        app, settings, topics, stages.classify, stages.incidents, stages.faults, out
    )
    if settings.live:
        add_ticker(app, settings, out, lambda: encoder.encode(Tick(watermark=clock())))
    if store is not None:
        add_sink(app, settings, topics, StoreWriter(store, m))
    if on_app is not None:
        on_app(app)
    return Pipeline(
        app=app, settings=settings, metrics=m, topics=topics, agents=agents, stages=stages,
        table=table,
    )  # fmt: skip
