"""bearertokenauth: an authenticator (``hangar_otelcol.auth``) that accepts the requests whose
``authorization: Bearer <token>`` is one of the configured tokens (the Collector's
bearertokenauthextension, server side), with a principal per token."""
