"""Half-up rounding: the one rule of every figure people read (metrics, note text, workbook cells)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from cvpipeline.metrics.rounding import ratio_half_up, round_half_up
from cvpipeline.metrics.targets import with_targets
from cvpipeline.report.formatting import ROUNDING_RULE, euros, number, percent, rounded
from cvpipeline.report.workbook import _number


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (0.5, 0, 1.0),
        (1.5, 0, 2.0),
        (2.5, 0, 3.0),  # round() gives 2
        (3.5, 0, 4.0),
        (-2.5, 0, -3.0),  # away from zero, as Excel's ROUND
        (0.05, 1, 0.1),
        (0.25, 1, 0.3),  # round() gives 0.2
        (91.25, 1, 91.3),
        (31.25, 1, 31.3),
        (81.25, 1, 81.3),
        (1.45, 1, 1.5),  # the float 1.45 is 1.4499999…: read as the decimal it is written as
        (2.675, 2, 2.68),  # the float 2.675 is 2.67499999…: round() gives 2.67
        (1.005, 2, 1.01),
        (91.24, 1, 91.2),
        (91.26, 1, 91.3),
        (Decimal("0.125"), 2, 0.13),
        (602000, 0, 602000.0),
    ],
)
def test_round_half_up(value: float, decimals: int, expected: float) -> None:
    assert round_half_up(value, decimals) == expected


def test_python_and_pandas_would_round_these_otherwise() -> None:
    # The cases above are the ones the former rounding got wrong: the test would fail on it.
    assert round(2.5) == 2 and round(91.25, 1) == 91.2 and round(2.675, 2) == 2.67
    assert pd.Series([91.25]).round(1).iloc[0] == 91.2


def test_ratio_half_up() -> None:
    assert ratio_half_up(73, 80) == 91.3
    assert ratio_half_up(25, 80) == 31.3
    assert ratio_half_up(1, 8, decimals=0) == 13.0
    assert ratio_half_up(3, 2000, decimals=1) == 0.2  # 0.15
    assert ratio_half_up(44, 118) == 37.3
    assert ratio_half_up(5, 0) is None
    assert ratio_half_up(float("nan"), 4) is None
    assert ratio_half_up(37, 2000, scale=1000) == 18.5


def test_achievement_rate_is_rounded_half_up() -> None:
    metrics = pd.DataFrame(
        {
            "indicator_code": ["beneficiaries", "beneficiaries"],
            "scope_type": ["action", "action"],
            "scope_code": ["citeslab", "ordi_pratique"],
            "breakdown": [None, None],
            "period_kind": ["all_data", "all_data"],
            "period_start": pd.to_datetime(["2016-01-01", "2016-01-01"]),
            "period_end": pd.to_datetime(["2018-12-31", "2018-12-31"]),
            "value": [73.0, 2.675],
        }
    )
    targets = pd.DataFrame(
        {
            "indicator_code": ["beneficiaries", "beneficiaries"],
            "scope_type": ["action", "action"],
            "scope_code": ["citeslab", "ordi_pratique"],
            "breakdown": [None, None],
            "period_kind": ["all_data", "all_data"],
            "period_start": [None, None],
            "period_end": [None, None],
            "target_value": [80.0, 100.0],
        }
    )
    out = with_targets(metrics, targets)
    assert out["achievement_pct"].tolist() == [91.3, 2.7]


def test_the_french_figures_round_half_up() -> None:
    nbsp = "\u00a0"
    assert percent(91.25) == f"91,3{nbsp}%"
    assert percent(37.35) == f"37,4{nbsp}%"
    assert number(2.5) == "3" and number(0.5) == "1" and number(1.45, 1) == "1,5"
    assert number(2.675, 2) == "2,68"
    assert number(602000.5) == f"602{nbsp}001"
    assert euros(1234.5) == f"1{nbsp}235{nbsp}€" and euros(0.5) == f"1{nbsp}€"
    assert rounded(14.5) == 15 and rounded(25) == 30 and rounded(65.0) == 70 and rounded(64.9) == 60


def test_workbook_cells_store_what_they_show() -> None:
    assert _number(91.25, "pct") == 0.913  # shown 91.3 %
    assert _number(37.35, "pct") == 0.374
    assert _number(2.5, "eur") == 3 and isinstance(_number(2.5, "eur"), int)
    assert _number(91.25, "dec") == 91.3
    assert _number(118.0, "int") == 118 and isinstance(_number(118.0, "int"), int)
    assert _number(None, "pct") is None


def test_the_rule_is_stated() -> None:
    assert "mi-chemin" in ROUNDING_RULE and "91,3" in ROUNDING_RULE and "supérieure" in ROUNDING_RULE
