"""Deterministic sample partner files for the Grand Chambéry contrat de ville."""
