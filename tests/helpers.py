"""Small dataset builders for tests: write CSV tables (and a config) into a folder."""

from __future__ import annotations

from pathlib import Path

DEFAULT_CONFIG = """
[window]
start = 2025-01-01
end = 2025-03-31

[[plan.components]]
type = "unilevel"
levels = [0.10, 0.05, 0.02]
active_min_pv = 100
compression = "dynamic"
"""


def write_dataset(
    folder: Path,
    participants: str,
    orders: str,
    costs: str | None = None,
    config: str | None = DEFAULT_CONFIG,
) -> Path:
    """Write ``participants.csv``, ``orders.csv`` (and ``costs.csv``, ``mlmroi.toml``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "participants.csv").write_text(participants.strip() + "\n", encoding="utf-8")
    (folder / "orders.csv").write_text(orders.strip() + "\n", encoding="utf-8")
    if costs is not None:
        (folder / "costs.csv").write_text(costs.strip() + "\n", encoding="utf-8")
    if config is not None:
        (folder / "mlmroi.toml").write_text(config, encoding="utf-8")
    return folder


# The ORACLES.md unilevel plan over January 2025; fill in the compression.
UNILEVEL = """
[window]
start = 2025-01-01
end = 2025-01-31
[[plan.components]]
type = "unilevel"
levels = [0.10, 0.05, 0.02]
active_min_pv = 100
compression = "{compression}"
"""

ORACLE_PARTICIPANTS = """
participant_id,sponsor_id,joined_on,role
A,,2024-01-01,distributor
B,A,2024-01-01,distributor
C,B,2024-01-01,distributor
D,C,2024-01-01,distributor
E,D,2024-01-01,distributor
F,B,2024-01-01,distributor
"""
# ORACLES.md, Compensation plans, Unilevel: PV A 150, B 100, C 0, D 200, E 100, F 50.
ORACLE_ORDERS = """
participant_id,ordered_on,amount
A,2025-01-05,150
B,2025-01-05,100
D,2025-01-05,200
E,2025-01-05,100
F,2025-01-05,50
"""
