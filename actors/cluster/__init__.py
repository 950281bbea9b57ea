"""Several server processes as one: the node registry, the leases that keep cluster-wide jobs single, the
member count of a room across nodes, and coalescing windows shared by every node."""

from .census import MemberCensus
from .coalescing import SharedWindows
from .lease import Lease
from .nodes import NodeRegistry

__all__ = ["Lease", "MemberCensus", "NodeRegistry", "SharedWindows"]
