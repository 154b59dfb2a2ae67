"""Notifications: the escalation ladder's deliveries, sent through WeCom, DingTalk, Feishu,
email and signed webhooks from a persisted outbox.

Wiring: `load_ladder()` → `Notifier(settings, Outbox(engine), channels, clock, registry)`;
`submit(OutboxMessage)` for each record of the `notifications` topic, `recover()` once at
start, then `run_once()` / `run_forever()`.
"""
