"""`dagster dev` that stops on SIGTERM, however it was started.

dagster dev turns SIGTERM into whatever SIGINT does (dagster._utils.interrupts.setup_interrupt_handlers).
A process started in the background by a non-interactive shell (`dagster dev &`, nohup, many process
managers) inherits SIGINT *ignored*, so SIGTERM is then ignored too and dagster dev with its webserver,
daemon and code server keeps running. This launcher restores SIGINT's default before it becomes
dagster dev (exec), so SIGTERM stops it: it asks its webserver and daemon to stop and waits for them.

    DAGSTER_HOME=$PWD/.sti-home/dagster uv run --frozen python deploy/dagster/dev.py -w workspace.yaml
"""

import os
import signal
import sys

signal.signal(signal.SIGINT, signal.SIG_DFL)  # survives exec as "default", unlike an ignored signal
os.execvp("dagster", ["dagster", "dev", *sys.argv[1:]])
