"""Built-in connectors: one sub-package per component, each with a factory.py defining FACTORY."""
