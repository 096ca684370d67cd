"""run.json's contents as a test reads them: the typed run summary written to JSON and read back."""

from __future__ import annotations

import json
from typing import Any

from mlmroi.pipeline import Result


def run_json(result: Result) -> dict[str, Any]:
    """The run summary as run.json holds it (money as exact strings, dates as ISO strings)."""
    data: dict[str, Any] = json.loads(result.run.to_json())
    return data
