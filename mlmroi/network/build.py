"""From parent relations over id codes to the accepted :class:`~mlmroi.network.Network`.

A participant is accepted when their own row is good and every chain they sit in — sponsor, and for binary
plans placement — reaches a root through accepted participants. :func:`reach` finds them and says, for each
one it turns away, why: the nearest rejected ancestor, a cycle, or a chain that runs into a cycle
(:mod:`mlmroi.network.chains` words it). :func:`accepted_network` relabels the accepted participants into
the breadth-first network, with the placement tree in the same node space.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.network import kernels
from mlmroi.network.chains import chain_reasons
from mlmroi.network.placement import placement_in_node_space
from mlmroi.network.tree import Network, from_parent_codes

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class ParentRelation:
    """A parent relation over the id codes whose chains must reach a root (sponsor or placement)."""

    name: str  # "sponsor" or "placement", for reasons
    column: str  # the input column that holds the parent
    parent: IntArray  # parent code of each code, -1 for a root
    leg: npt.NDArray[np.int8] | None = None  # placement only: 0 = L, 1 = R
    child: IntArray | None = None  # placement only: (codes, 2) the holder of each leg, -1 for none

    def bfs(self, ok: BoolArray) -> tuple[IntArray, BoolArray]:
        """Breadth-first order of the codes reached from ok roots through ok codes, and the reached mask."""
        if self.child is not None:  # the leg holders are the children, two slots each: no lists to build
            starts = np.arange(0, 2 * self.child.shape[0] + 1, 2, dtype=np.int64)
            listed: tuple[IntArray, BoolArray]
            listed = kernels._bfs_listed(self.parent, starts, self.child.reshape(-1), ok)
            return listed
        return kernels._bfs_order(self.parent, ok)  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class Broken:
    """Codes one relation turned away in one round of :func:`reach`, with why (``kernels.CHAIN_*``) and the
    code that blocks each (the rejected ancestor, or the smallest code on the cycle)."""

    relation: ParentRelation
    codes: IntArray
    kinds: npt.NDArray[np.int8]  # per code (all codes), as classified
    blockers: IntArray  # per code (all codes)


@dataclass(frozen=True, eq=False)
class Reach:
    """What :func:`reach` decided: the accepted codes, each relation's breadth-first order of them, and
    the participants turned away (one :class:`Broken` per relation and round)."""

    accepted: BoolArray
    orders: list[IntArray]
    broken: list[Broken]


def reach(relations: list[ParentRelation], ok: BoolArray) -> Reach:
    """Accept the ``ok`` codes whose chains in every relation reach a root through accepted codes; repeated
    until stable, because a participant turned away by one relation breaks chains in the other."""
    broken: list[Broken] = []
    while True:
        accepted = ok.copy()
        orders = []
        for relation in relations:
            order, reached = relation.bfs(ok)
            orders.append(order)
            kinds, blockers = kernels._classify_unreached(relation.parent, ok, reached)
            codes = np.flatnonzero((kinds != 0) & accepted)  # one reason per participant
            accepted &= reached
            if codes.size:
                broken.append(Broken(relation, codes, kinds, blockers))
        if (accepted == ok).all():
            return Reach(accepted, orders, broken)
        ok = accepted


def reasons(
    broken: Broken, ids: pl.Series, blocker_row: IntArray, joined_after: BoolArray | None = None
) -> list[str]:
    """The reject reason of each code in ``broken.codes`` (``ids``: the id of each code; ``blocker_row``:
    each code's blocker's input row; ``joined_after``: the codes left out as joined after the window end,
    named so when they block), in time linear in the network (:mod:`mlmroi.network.chains`)."""
    relation = broken.relation
    return chain_reasons(
        relation.name,
        ids,
        relation.parent,
        broken.kinds,
        broken.blockers,
        broken.codes,
        blocker_row,
        joined_after,
    )


def accepted_network(
    ids: pl.Series, relations: list[ParentRelation], decided: Reach
) -> tuple[Network, IntArray]:
    """The network of the accepted codes (sponsor relation first, placement second when given), relabelled
    breadth-first, and ``node_of_code`` (-1 for a code not accepted)."""
    sponsor = relations[0].parent
    accepted_codes = np.flatnonzero(decided.accepted)
    sub_of_code = np.full(sponsor.shape[0], -1, dtype=np.int64)
    sub_of_code[accepted_codes] = np.arange(accepted_codes.size, dtype=np.int64)
    sub_parent = np.where(
        sponsor[accepted_codes] >= 0, sub_of_code[np.maximum(sponsor[accepted_codes], 0)], -1
    )
    network, node_of_sub = from_parent_codes(
        ids.gather(accepted_codes), sub_parent.astype(np.int64), order=sub_of_code[decided.orders[0]]
    )
    node_of_code = np.full(sponsor.shape[0], -1, dtype=np.int64)
    node_of_code[accepted_codes] = node_of_sub
    if len(relations) > 1:
        placement = relations[1]
        assert placement.leg is not None
        tree = placement_in_node_space(decided.orders[1], placement.parent, placement.leg, node_of_code)
        network = replace(network, placement=tree)
    return network, node_of_code
