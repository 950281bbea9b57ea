"""Dev mode's one network rule: the sample-token endpoint serves only the machine the server runs on.

``GET /api/dev/tokens`` hands out an ADMIN token to whoever asks, which is the point on a laptop and
a hole anywhere else: ``--dev`` binds 127.0.0.1 by default, but ``--dev --host 0.0.0.0`` (a VM, a
container) must not make it a token dispenser for the network. A request that came through a proxy
(``X-Forwarded-For``, ``Forwarded``) is refused too: behind a proxy on the same machine every peer
address is loopback, whoever the browser is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def from_this_machine(environ: Mapping[str, Any]) -> bool:
    """True when the peer is a loopback address and no proxy says it forwarded someone else."""
    if any(environ.get(header) for header in _PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(str(environ.get("REMOTE_ADDR", "")).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
