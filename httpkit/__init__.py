"""HTTP-server plumbing shared by the mock (mockserver) and the gateway (connector).

Nothing here knows about Pointillist or Segment, and it imports neither package: connection
limits (connections.py), aiohttp's malformed-request log line (logs.py), reading and inflating a
body and the Content-Encodings both servers take (bodies.py, inflation.py), the lone surrogates
no UTF-8 text holds (text.py), query parameters (query.py), the problem tree (problems.py), the
one error middleware, which turns every failure and aiohttp's own HTTP exceptions into a problem
(rendering.py), and serving an app on a socket, in the foreground or in a thread (serving.py).
Each server passes the middleware its renderer: its own error shape.
"""
