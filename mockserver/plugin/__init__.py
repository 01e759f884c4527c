"""The pytest side of the mock: the `pointillist_mock` fixture (pytest_plugin.py) and the
handle it gives each test (handle.py, typed shapes in handle_types.py).

The top floor of mockserver: it talks to a mock over HTTP only (plain urllib), and imports
the server's modules just to start one (`http.server`). `from mockserver.plugin import
MockHandle, MockError` is the import for a user's type hints.
"""

from mockserver.plugin.handle import MockError, MockHandle

__all__ = ["MockError", "MockHandle"]
