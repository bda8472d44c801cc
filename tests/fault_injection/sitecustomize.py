"""Fault injection for tests/test_load_atomic.py, kept out of the product.

The test starts `sti load` with this folder (and the repository) on PYTHONPATH, so Python imports this
module at start-up. When STI_FAULT_PAUSE_AT names a checkpoint (sti_portal.publish.generations.checkpoint),
the writer announces it with a marker file in STI_HOME (a `.*.tmp` name: the next writer's recovery removes
it like any other leftover) and sleeps until the test kills it there.
"""

import os
import time

PAUSE_AT = os.environ.get("STI_FAULT_PAUSE_AT", "")


def marker_name(point: str) -> str:
    return f".paused-at-{point}.tmp"


if PAUSE_AT:
    from sti_portal.publish import generations

    _checkpoint = generations.checkpoint

    def _pause_at_named_point(name, paths):
        if name == PAUSE_AT:
            (paths.home / marker_name(name)).write_text(str(os.getpid()), encoding="utf-8")
            time.sleep(3600)
        _checkpoint(name, paths)

    generations.checkpoint = _pause_at_named_point
