"""The stream processor: settings, topics, the Faust app and the logic its agents run.

Contract: the top level holds only the process's frame (``settings``, ``topics``, ``logs``,
``app``, ``worker``). Logic lives in packages layered bottom-up: ``models`` and ``settings``;
then ``sketches``, ``sinks``, ``ingest``, ``metrics``, ``learning`` and ``runtime`` (pure
unless named for their I/O); ``agents`` above them; ``app`` and ``worker`` on top. Imports run
down only, and nothing here imports ``collector``, ``live_feed`` or ``dojo_pulse``.
"""
