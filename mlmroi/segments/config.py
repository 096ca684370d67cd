"""``[segments]``: which segmentations run and their settings (pydantic, frozen, no unknown keys)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: per-participant measures a segmentation may use (``abc.measure``, ``bcg.x`` / ``bcg.y``)
Measure = Literal[
    "revenue",
    "margin",
    "profit",
    "commissions",
    "orders",
    "personal_volume",
    "group_volume",
    "gv_growth",
    "frontline",
    "downline_size",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class AbcConfig(_Model):
    """ABC by a measure: ``cumulative`` shares or ``mean_multiple`` of the mean per buyer."""

    method: Literal["cumulative", "mean_multiple"] = "cumulative"
    measure: Literal["revenue", "margin", "profit", "group_volume"] = "revenue"
    thresholds: tuple[float, float] = Field(
        default=(0.75, 0.95), description="cumulative shares closing A, B"
    )
    multiples: tuple[float, float] = Field(default=(6.0, 0.5), description="A ≥ a·P, C ≤ c·P (mean_multiple)")

    @model_validator(mode="after")
    def _ordered(self) -> AbcConfig:
        a, b = self.thresholds
        if not 0.0 < a < b <= 1.0:
            raise ValueError(f"thresholds must satisfy 0 < a < b ≤ 1 (got {a}, {b})")
        high, low = self.multiples
        if not 0.0 <= low < high:
            raise ValueError(f"multiples must satisfy 0 ≤ c < a (got a = {high}, c = {low})")
        return self


class XyzConfig(_Model):
    """XYZ stability over the periods since each participant joined."""

    method: Literal["cv", "frequency"] = "cv"
    thresholds: tuple[float, float] | None = Field(
        default=None,
        description="cv: X ≤ t1, Y ≤ t2 (default 0.10, 0.25); frequency: X ≥ t1, Y ≥ t2 (0.75, 0.25)",
    )
    min_periods: int = Field(
        default=3, ge=1, le=120, description="fewer periods in the window since joining: xyz = new"
    )

    @property
    def bounds(self) -> tuple[float, float]:
        """The thresholds in force."""
        if self.thresholds is not None:
            return self.thresholds
        return (0.10, 0.25) if self.method == "cv" else (0.75, 0.25)

    @model_validator(mode="after")
    def _ordered(self) -> XyzConfig:
        x, y = self.bounds
        if self.method == "cv" and not 0.0 <= x < y:
            raise ValueError(f"cv thresholds must satisfy 0 ≤ X < Y (got {x}, {y})")
        if self.method == "frequency" and not 0.0 <= y < x <= 1.0:
            raise ValueError(f"frequency thresholds must satisfy 0 ≤ Y < X ≤ 1 (got {x}, {y})")
        return self


class RfmSegment(_Model):
    """A named RFM cell range; the first segment (in list order) whose ranges contain the scores wins."""

    name: str
    r: tuple[int, int]
    f: tuple[int, int]
    m: tuple[int, int]


#: The R ``rfm`` package's documented ten-segment map (ORACLES.md), scores 1–5.
DEFAULT_RFM_SEGMENTS = (
    RfmSegment(name="champions", r=(5, 5), f=(5, 5), m=(5, 5)),
    RfmSegment(name="potential_loyalist", r=(3, 5), f=(3, 5), m=(2, 5)),
    RfmSegment(name="loyal", r=(2, 4), f=(2, 4), m=(2, 4)),
    RfmSegment(name="promising", r=(3, 4), f=(1, 3), m=(3, 5)),
    RfmSegment(name="new", r=(4, 5), f=(1, 3), m=(1, 5)),
    RfmSegment(name="cant_lose", r=(1, 2), f=(3, 4), m=(4, 5)),
    RfmSegment(name="at_risk", r=(1, 2), f=(2, 5), m=(4, 5)),
    RfmSegment(name="need_attention", r=(1, 3), f=(3, 5), m=(3, 5)),
    RfmSegment(name="about_to_sleep", r=(2, 3), f=(1, 3), m=(1, 4)),
    RfmSegment(name="lost", r=(1, 1), f=(1, 5), m=(1, 5)),
)


class RfmConfig(_Model):
    """RFM scores 1..``bins`` by value-based quantile breaks, and the named-segment table."""

    bins: int = Field(default=5, ge=2, le=10)
    segments: tuple[RfmSegment, ...] = DEFAULT_RFM_SEGMENTS

    @model_validator(mode="after")
    def _in_range(self) -> RfmConfig:
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise ValueError("segment names must be unique")
        for s in self.segments:
            if s.name in ("other", "no_purchase"):
                raise ValueError(f"{s.name!r} is reserved (unmatched / no orders)")
            for score in (s.r, s.f, s.m):
                if not 1 <= score[0] <= score[1] <= self.bins:
                    raise ValueError(f"segment {s.name!r}: range {list(score)} is not within 1..{self.bins}")
        return self


class BcgConfig(_Model):
    """The activity × capacity matrix: ``x`` high and ``y`` high = star, … (split above the median)."""

    x: Measure = "orders"
    y: Measure = "gv_growth"
    x_split: float | None = Field(default=None, description="high x = above this (default: the median)")
    y_split: float | None = Field(default=None, description="high y = above this (default: the median)")


class LifecycleConfig(_Model):
    """MLM lifecycle stages (precedence churned > leader > partner > customer > prospect)."""

    churn_days: int = Field(default=90, ge=1, le=36_600, description="no order in this many days → churned")
    leader_rank: str | None = Field(default=None, description="partners at this rank or above are leaders")
    rank_order: tuple[str, ...] = Field(
        default=(), description="lowest to highest, for leader_rank with the dataset's rank column"
    )
    leader_top_share: float = Field(
        default=0.01, ge=0.0, le=1.0, description="partners in this top share by GV with ≥ 3 frontline"
    )
    leader_min_frontline: int = Field(default=3, ge=0, le=1_000_000)


class SegmentsConfig(_Model):
    """``[segments]``: every segmentation, plus attribute segments from participant columns."""

    abc: AbcConfig = AbcConfig()
    xyz: XyzConfig = XyzConfig()
    rfm: RfmConfig = RfmConfig()
    bcg: BcgConfig = BcgConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    by: tuple[str, ...] = Field(default=(), description="participant columns to segment by (age_band too)")
    age_bands: tuple[int, ...] = Field(default=(25, 35, 45, 55, 65), description="ages starting each band")

    @model_validator(mode="after")
    def _bands(self) -> SegmentsConfig:
        if list(self.age_bands) != sorted(set(self.age_bands)) or any(a <= 0 for a in self.age_bands):
            raise ValueError("age_bands must be positive and strictly increasing")
        return self
