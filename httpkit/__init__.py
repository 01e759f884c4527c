"""HTTP-server plumbing shared by the mock (mockserver) and the gateway (connector).

Nothing here knows about Pointillist or Segment, and it imports neither package: connection
limits (connections.py), aiohttp's malformed-request log line (logs.py), reading and inflating a
body (bodies.py), query parameters (query.py), turning aiohttp's own HTTP exceptions into
problems (problems.py), and serving an app on a socket, in the foreground or in a thread
(serving.py). Each server renders problems in its own error shape.
"""
