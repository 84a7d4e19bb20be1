"""Factory of the ``call_ledger`` extension."""

from __future__ import annotations

from hangar_otelcol.component import Stability, extension_factory
from hangar_otelcol.extensions.call_ledger.config import CallLedgerConfig
from hangar_otelcol.extensions.call_ledger.extension import CallLedgerExtension
from hangar_otelcol.ledger import CAPABILITY

FACTORY = extension_factory(
    "call_ledger", CallLedgerConfig, CallLedgerExtension, Stability.BETA,
    provides=frozenset({CAPABILITY}),
    description="count-once ledger in this process: which calls real audit records "
                "reported, so a span of the same call is not counted again")
