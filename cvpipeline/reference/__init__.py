"""Reference data shipped with the package (QPV of the territory)."""
