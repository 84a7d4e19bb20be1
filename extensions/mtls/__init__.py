"""mtls: an authenticator whose principal is the verified TLS client certificate (the
listener must require one: tls.client_ca_file)."""
