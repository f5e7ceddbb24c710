"""Real-server test harness: Prosody and ejabberd on loopback (alone, or federated with each
other), and a byte-exact raw client."""

from __future__ import annotations

from .client import ClientError, Received, XmppClient, connect
from .federation import Federation, federation
from .servers import (
    Server,
    ServerError,
    ServerUnavailable,
    ejabberd_server,
    prosody_server,
    start_ejabberd,
    start_prosody,
)

__all__ = [
    "ClientError",
    "Federation",
    "Received",
    "Server",
    "ServerError",
    "ServerUnavailable",
    "XmppClient",
    "connect",
    "ejabberd_server",
    "federation",
    "prosody_server",
    "start_ejabberd",
    "start_prosody",
]
