"""Participant ids to positions: the id universe, sorted, and fast lookups into it.

Every table keys its rows to participants through one :class:`IdLookup` built over the distinct
participant ids in ascending order; an id's position there is its *code*. Dense integer ids are looked up
through a direct table (no hashing), any other ids through a hash map.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi._numba import kernel, readonly

IntArray = npt.NDArray[np.int64]

#: :meth:`IdLookup.nodes` for an id that is known but whose participant was rejected
REJECTED = -2
#: in ``node_of_code`` and from :meth:`IdLookup.nodes`: a participant who joined after the window end
JOINED_AFTER = -3


def _table_lookup(keys: IntArray, table: IntArray, lo: int) -> IntArray:
    """``table[key - lo]`` for each key, -1 outside the table."""
    out = np.empty(keys.shape[0], dtype=np.int64)
    _table_lookup_into(readonly(keys), readonly(table), lo, out)
    return out


@kernel
def _table_lookup_into(keys, table, lo, out):  # type: ignore[no-untyped-def]
    size = table.shape[0]
    for i in range(keys.shape[0]):
        k = keys[i] - lo
        out[i] = table[k] if 0 <= k < size else -1


class IdLookup:
    """Original id -> code, its position among the sorted distinct ids (-1 when unknown)."""

    def __init__(self, sorted_ids: pl.Series) -> None:
        self.ids = sorted_ids
        self._table: IntArray | None = None
        self._node_table: IntArray | None = None  # the direct table in node space, for _node_of only
        self._node_of: IntArray | None = None
        if sorted_ids.dtype == pl.Int64 and sorted_ids.len():
            lo, hi = int(sorted_ids[0]), int(sorted_ids[-1])
            if hi - lo < 4 * sorted_ids.len() + 1024:  # dense integer ids: a direct table beats hashing
                self._lo = lo
                self._table = np.full(hi - lo + 1, -1, dtype=np.int64)
                self._table[sorted_ids.to_numpy() - lo] = np.arange(sorted_ids.len(), dtype=np.int64)

    @property
    def kind(self) -> pl.DataType:
        """The ids' type (Int64 or String)."""
        return self.ids.dtype

    def codes(self, keys: pl.Series) -> IntArray:
        """The code of each key (-1 unknown or null)."""
        if self._table is not None and keys.dtype == pl.Int64:
            return _table_lookup(keys.fill_null(self._lo - 1).to_numpy(), self._table, self._lo)
        mapping = pl.Series("code", np.arange(self.ids.len(), dtype=np.int64))
        return (
            keys.cast(self.ids.dtype)
            .replace_strict(self.ids, mapping, default=-1)
            .to_numpy()
            .astype(np.int64)
        )

    def nodes(self, keys: pl.Series, node_of_code: IntArray) -> IntArray:
        """Network node of each key: -1 unknown id, :data:`REJECTED` a known but rejected participant,
        :data:`JOINED_AFTER` one who joined after the window end (one pass)."""
        if node_of_code.size == 0:
            return np.full(keys.len(), -1, dtype=np.int64)
        known_node = np.where((node_of_code >= 0) | (node_of_code == JOINED_AFTER), node_of_code, REJECTED)
        if self._table is not None and keys.dtype == pl.Int64:
            if self._node_of is not node_of_code:  # built once per node_of_code (the loader passes one)
                self._node_of = node_of_code
                self._node_table = np.where(self._table >= 0, known_node[np.maximum(self._table, 0)], -1)
            assert self._node_table is not None
            return _table_lookup(keys.fill_null(self._lo - 1).to_numpy(), self._node_table, self._lo)
        code = self.codes(keys)
        return np.where(code >= 0, known_node[np.maximum(code, 0)], -1).astype(np.int64)
