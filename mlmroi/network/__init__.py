"""The network engine: dense breadth-first relabelling and tree-metric kernels."""

from mlmroi.network.placement import Placement
from mlmroi.network.tree import Network, from_edges, from_parent_codes, with_placement

__all__ = ["Network", "Placement", "from_edges", "from_parent_codes", "with_placement"]
