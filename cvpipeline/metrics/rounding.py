"""The one rounding rule of every figure people read: half up (away from zero), as in French usage.

Python's `round`, pandas' `.round` and `format(x, ".1f")` round half to even, or round the binary
value of a float (2.675 is stored as 2.67499…): 91.25 would read 91.2 and 2.675 would read 2.67.
Here a float is taken as the decimal it is written as (its shortest repr, 2.675), then rounded half
up with `decimal.ROUND_HALF_UP`, as Excel's ROUND does: 91.25 → 91.3, 2.675 → 2.68, 0.5 → 1, -0.5 → -1.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal


def _decimal(value: float | int | Decimal) -> Decimal:
    """The decimal a number is written as (a float by its shortest repr: 2.675, not 2.67499…)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(value) if isinstance(value, int) else Decimal(repr(float(value)))


def round_half_up(value: float | int | Decimal, decimals: int = 0) -> float:
    """The value rounded half up to `decimals` places (91.25 → 91.3 at 1; 2.5 → 3.0 at 0).

    NaN and infinities are returned as they are (no figure to round).
    """
    if not isinstance(value, Decimal) and not math.isfinite(float(value)):
        return float(value)
    return float(_decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def ratio_half_up(
    numerator: float | int, denominator: float | int, scale: int = 100, decimals: int = 1
) -> float | None:
    """scale × numerator / denominator, computed on decimals and rounded half up (None when / 0).

    73 / 80 at scale 100 → 91.3: the quotient is exact in decimal, so a true half is rounded up
    even where the float quotient falls just below it.
    """
    if denominator is None or numerator is None:
        return None
    if isinstance(numerator, float) and not math.isfinite(numerator):
        return None
    if not denominator or (isinstance(denominator, float) and not math.isfinite(denominator)):
        return None
    return round_half_up(_decimal(numerator) * scale / _decimal(denominator), decimals)
