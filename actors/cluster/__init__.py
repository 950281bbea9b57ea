"""Several server processes as one: the node registry and the leases that keep cluster-wide jobs single."""

from .lease import Lease
from .nodes import NodeRegistry

__all__ = ["Lease", "NodeRegistry"]
