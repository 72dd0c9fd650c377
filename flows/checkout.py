"""The pull step of every deployment in prefect.yaml: run the flow from the checkout of the
host that runs it.

A `set_working_directory` to a path resolved when deploying would bake the bootstrap host's
checkout into every deployment, and a worker whose checkout lives elsewhere (another host, a
container at /opt/dailies, a second clone) could not find the flow. The flow-run process
imports this module from the project installed on its own host (editable, from that host's
checkout), so the directory is whatever that host has.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def use_this_hosts_checkout() -> dict[str, str]:
    """Change into this host's checkout, where the deployments' entrypoints are."""
    os.chdir(CHECKOUT)
    return {"directory": str(CHECKOUT)}
