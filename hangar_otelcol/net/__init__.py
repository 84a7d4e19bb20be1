"""Network building blocks shared by every component (the Collector's confignet,
configtls, confighttp): endpoints, TLS configs, serving an aiohttp app, google.rpc.Status."""
