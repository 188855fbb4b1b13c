"""What every `amma-edge` command group shares."""
from __future__ import annotations

import click

from amma_edge.errors import AmmaEdgeError


class UserErrorGroup(click.Group):
    """Shows user-facing errors ("Error: …", exit 1) as one line instead of a traceback, also when a stage's
    group runs on its own (tests, `python -m`)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AmmaEdgeError as exc:
            raise click.ClickException(str(exc)) from exc
