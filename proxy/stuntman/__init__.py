"""stuntman: service virtualization and fault-injecting HTTP proxy."""

__version__ = "0.1.0"
