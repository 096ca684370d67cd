"""The network engine: dense breadth-first relabelling and tree-metric kernels."""

from mlmroi.network.tree import Network, from_edges, from_parent_codes

__all__ = ["Network", "from_edges", "from_parent_codes"]
