"""mlmroi: MLM network analytics — commissions, costs and ROI per participant and per branch.

Public API::

    import mlmroi
    config = mlmroi.load_config(dataset="data/sample")
    result = mlmroi.score("data/sample", config)
    mlmroi.write(result, "out")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mlmroi.errors import ConfigError, DataError, InputError, MlmRoiError, NetworkError, OutputError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mlmroi.config import Config, load_config
    from mlmroi.network import Network, from_edges
    from mlmroi.output import write
    from mlmroi.pipeline import Result, score

#: The API's heavy names load on first use (numba, polars, scipy), so that ``import mlmroi.errors`` — and the
#: command line's start, its spinner included — does not wait a second for them.
_LAZY = {
    "Config": "mlmroi.config",
    "load_config": "mlmroi.config",
    "Network": "mlmroi.network",
    "from_edges": "mlmroi.network",
    "write": "mlmroi.output",
    "Result": "mlmroi.pipeline",
    "score": "mlmroi.pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mlmroi' has no attribute {name!r}")


__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "InputError",
    "MlmRoiError",
    "Network",
    "NetworkError",
    "OutputError",
    "Result",
    "__version__",
    "from_edges",
    "load_config",
    "score",
    "write",
]
