"""Run the Faust worker: make sure the topics exist, then hand over to Faust."""

from __future__ import annotations

import asyncio

import faust

from stream.app import create_app
from stream.settings import Settings
from stream.topics import ensure_topics


def run_worker(settings: Settings, *, loglevel: str = "warn") -> None:
    """Create missing topics and run every agent until a signal stops the worker."""
    # A subscription to a missing topic is never revisited by Faust's assignor, so the
    # topics must exist before the consumer joins the group.
    asyncio.run(ensure_topics(settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
