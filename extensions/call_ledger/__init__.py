"""call_ledger: the count-once ledger other components name in their ``ledger:`` key."""
