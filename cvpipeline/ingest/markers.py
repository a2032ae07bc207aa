"""The columns and marks parsing adds to a table's rows, which validation and loading then read."""

# Each row's id within a parsed table (GX reports failing rows by it).
ROW_ID = "_rid"
# A cell that could not be parsed keeps its text in this column's twin, for the quarantine reason.
UNPARSED_PREFIX = "__unparsed__"
# A date cell written as a day the calendar does not have (31/02/2021) keeps its text in this twin
# instead (masked in a personal column): its reason says the date does not exist.
NONEXISTENT_PREFIX = "__nonexistent__"
# The row a repeated line repeats (within a file).
DUPLICATE_COLUMN = "__duplicate_of_row"
# Why a row that looks like a record is a total or a sub-total (ingest/tables.py `mark_totals`).
TOTAL_COLUMN = "__total_row"
# What a personal value is replaced with wherever it would be shown.
MASK = "***"
