"""basicauth: an authenticator (``hangar_otelcol.auth``) that accepts the requests whose
``authorization: Basic ...`` names a user of an htpasswd file with the right password (the
Collector's basicauthextension, server side); the principal is the user."""
