"""Reference data shipped with the package: the territory's QPVs, official QPV lists and ANCT data."""
