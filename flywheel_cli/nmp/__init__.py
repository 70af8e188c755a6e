"""httpx clients for the NeMo Microservices Platform 25.x `/v1` APIs, and nothing NMP-specific outside them.

`NmpClients.from_config(settings.nmp)` builds one client per service; `flywheel_cli.platforms.nmp.NmpPlatform` is
the Platform implementation on top of them.
"""

from flywheel_cli.nmp.clients import NmpClients
from flywheel_cli.nmp.errors import Conflict, NmpError, NotFound, Unreachable

__all__ = ["Conflict", "NmpClients", "NmpError", "NotFound", "Unreachable"]
