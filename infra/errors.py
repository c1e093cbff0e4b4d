"""The one error type of ``infra``: something the operator must fix, said plainly."""

from __future__ import annotations


class InfraError(RuntimeError):
    """A clear, actionable message for the operator."""
