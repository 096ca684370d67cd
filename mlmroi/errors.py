"""One exception hierarchy: callers catch :class:`MlmRoiError`.

Every message is one line that names the file, key or column at fault and, where possible, the fix.
"""

from __future__ import annotations


class MlmRoiError(Exception):
    """Base class of every error mlmroi raises on purpose."""

    exit_code = 2

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class ConfigError(MlmRoiError):
    """The configuration is invalid; each problem names its key."""


class InputError(MlmRoiError):
    """A dataset file is structurally unusable (missing, unreadable, missing column, wrong type)."""


class DataError(MlmRoiError):
    """Rows would be rejected and the run was asked to be strict (``--strict``)."""

    exit_code = 1


class NetworkError(MlmRoiError):
    """The network cannot be built from the accepted participants."""


class OutputError(MlmRoiError):
    """The output folder cannot be written safely."""


class ModelError(MlmRoiError):
    """A customer-value model cannot be fitted or applied to these data (too few repeat buyers, degenerate
    values, no convergence); the message says why instead of returning NaN parameters."""

    exit_code = 1
