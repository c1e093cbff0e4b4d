"""Site content: dojo events, resources and pages with revisions, publishing and delivery.

Contract:
- ``types.TYPES`` holds every content type (``event``, ``resource``, ``page``; others join
  with ``types.register``); a type declares its fields and ``validate(fields)`` returns a
  message per bad field (empty: valid). HTML bodies are sanitised with nh3, never by regex.
- ``service.ContentService(engine, publisher)`` is the one writer and reader: every write,
  from any path (admin API, CLI, import, seed), makes a numbered revision (a full snapshot,
  its author label, when, a message); publishing chooses one revision as live. Writes carry
  the revision they edit (``Stale`` otherwise) and invalid input writes nothing (``Invalid``).
- After each commit the service hands the publisher messages for ``dojo.content``
  (compacted, key = item id, the live snapshot or a tombstone) and ``dojo.content.revisions``.
- The store holds content only: an author is a label such as ``admin``, never a person's data.
- Importing this package connects to nothing.
"""

from __future__ import annotations

from stream.content.errors import Invalid, NotFound, Stale
from stream.content.service import ContentService

__all__ = ["ContentService", "Invalid", "NotFound", "Stale"]
