"""The sources step: read each partner file, validate it, shape its rows and write its slice."""
