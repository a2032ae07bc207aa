"""Validate step: Great Expectations suites per source table; failing rows go to quarantine."""
