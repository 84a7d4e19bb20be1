"""Authenticator extensions are tested through the real otlp receiver too."""

from tests.receivers.otlp.conftest import start_receiver

__all__ = ["start_receiver"]
