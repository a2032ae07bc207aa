"""Metrics step: the evaluation indicators computed from the warehouse tables."""
