"""The ``batch`` processor: groups parts into bigger requests by size or time."""
