"""konsel's end-to-end encryption protocol: pure logic, bytes in and bytes out.

Nothing in this package opens sockets, runs an event loop, reads the clock or logs.
Time and randomness come in as arguments, so known-answer tests are deterministic.
"""

PROTOCOL_VERSION = 1
"""Version number carried in every envelope and bound into the associated data."""
