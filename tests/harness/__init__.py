"""Real-server test harness: Prosody and ejabberd on loopback, and a byte-exact raw client."""

from __future__ import annotations

from .client import ClientError, Received, XmppClient, connect
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
    "Received",
    "Server",
    "ServerError",
    "ServerUnavailable",
    "XmppClient",
    "connect",
    "ejabberd_server",
    "prosody_server",
    "start_ejabberd",
    "start_prosody",
]
