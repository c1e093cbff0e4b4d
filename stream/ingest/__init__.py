"""Ingest: from a scrubbed raw batch to clean session batches, each event judged once.

Contract: ``contract`` is the event contract (docs/contract.md), ``sanitize`` what an event
may keep, ``screen`` the pure screen/assemble step (every event ends in exactly one output),
``bundles`` the wire format of the clean topic, ``dedupe`` and ``reclaim`` the claims on event
ids (Redis, re-read from Kafka when Redis lost them). Imports only ``stream.models`` and
``stream.settings``; nothing here knows a metric, a learner or an agent.
"""
