"""oidc: an authenticator that accepts OpenID Connect ID / access tokens (JWTs) as bearer
tokens, verified with the issuer's keys (the Collector's oidcauthextension)."""
