"""Dagster resources shared by pipelines/definitions.py and pipelines/loads.py."""

from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from sti_portal.core import settings
from sti_portal.publish import generations


class StiHome(dg.ConfigurableResource):
    """Where the warehouse, sti.db and reports live (STI_HOME)."""

    home: str = ""

    def paths(self) -> settings.Paths:
        return (settings.Paths(Path(self.home)) if self.home else settings.paths()).ensure()


class WriterLock(dg.ConfigurableResource):
    """STI_HOME's write lock, held from the start to the end of the run that uses it."""

    home: str = ""

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        paths = (settings.Paths(Path(self.home)) if self.home else settings.paths()).ensure()
        with generations.writer_lock(paths, purpose=f"dagster run {context.run_id or ''}".strip()):
            yield self
