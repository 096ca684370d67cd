"""mlmroi: MLM network analytics — commissions, costs and ROI per participant and per branch.

Public API::

    import mlmroi
    config = mlmroi.load_config(dataset="data/sample")
    result = mlmroi.score("data/sample", config)
    mlmroi.write(result, "out")
"""

__version__ = "0.1.0"

from mlmroi.config import Config, load_config
from mlmroi.errors import ConfigError, DataError, InputError, MlmRoiError, NetworkError, OutputError
from mlmroi.network import Network, from_edges
from mlmroi.output import write
from mlmroi.pipeline import Result, score

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
