"""Ingest step: read partner files, map headers, parse French formats, pseudonymise people."""
