"""The floor: the least honest work on one partner CSV, with the same stack, in one process.

Imports dagster, pandas and GX; reads the CSV with pandas; parses the dates; runs a GX 1.x suite of
five expectations with COMPLETE results; writes the valid rows to SQLite in one `executemany`
transaction; counts distinct people per year. Prints one JSON line with its step times.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

START = time.perf_counter()
import dagster  # noqa: E402,F401 - the stack's import cost is part of the floor
import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402


def main(csv: Path, db: Path) -> None:
    """Run the floor on `csv` into the SQLite file `db`."""
    steps: dict[str, float] = {"import": time.perf_counter() - START}
    mark = time.perf_counter()
    frame = pd.read_csv(csv, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    frame.columns = ["id", "sex", "birth_year", "school", "quartier", "start", "end"]
    steps["read"] = time.perf_counter() - mark
    mark = time.perf_counter()
    frame["start"] = pd.to_datetime(frame["start"], format="%d/%m/%Y", errors="coerce")
    frame["end"] = pd.to_datetime(frame["end"], format="%d/%m/%Y", errors="coerce")
    frame["birth_year"] = pd.to_numeric(frame["birth_year"], errors="coerce")
    frame["rid"] = range(len(frame))
    steps["parse"] = time.perf_counter() - mark
    mark = time.perf_counter()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = gx.data_context.types.base.ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("floor")
        .add_dataframe_asset("rows")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    expectations = [
        gx.expectations.ExpectColumnValuesToNotBeNull(column="id"),
        gx.expectations.ExpectColumnValuesToBeInSet(column="sex", value_set=["F", "H"]),
        gx.expectations.ExpectColumnValuesToBeBetween(column="birth_year", min_value=1900, max_value=2030),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="start"),
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end", column_B="start", or_equal=True, ignore_row_if="either_value_is_missing"
        ),
    ]
    bad: set[int] = set()
    for expectation in expectations:
        result = batch.validate(
            expectation, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["rid"]}
        )
        bad.update(int(r["rid"]) for r in result.result.get("unexpected_index_list") or [])
    steps["validate"] = time.perf_counter() - mark
    mark = time.perf_counter()
    valid = frame[~frame["rid"].isin(bad)]
    rows = list(
        zip(
            valid["id"],
            valid["sex"],
            valid["birth_year"].astype("Int64").astype(object).where(valid["birth_year"].notna(), None),
            valid["start"].dt.strftime("%Y-%m-%d"),
            strict=True,
        )
    )
    with sqlite3.connect(db) as con:
        con.execute("create table participations (id text, sex text, birth_year integer, start_date text)")
        con.executemany("insert into participations values (?, ?, ?, ?)", rows)
    steps["write"] = time.perf_counter() - mark
    mark = time.perf_counter()
    per_year = valid.groupby(valid["start"].dt.year)["id"].nunique()
    steps["indicators"] = time.perf_counter() - mark
    steps["total"] = time.perf_counter() - START
    print(json.dumps({"steps": steps, "rows": len(frame), "quarantined": len(bad), "years": len(per_year)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
