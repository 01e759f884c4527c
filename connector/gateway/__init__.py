"""The Segment-compatible gateway: Segment's HTTP Tracking API in front, a durable outbox, and a
worker that delivers mapped events to Pointillist.

app.py wires it; handlers.py (the /v1/* routes), admin.py (/_gateway/*), tracking.py (pure:
reading Segment bodies), outbox.py (SQLite), worker.py (delivery), engage.py (scheduled Engage
syncs), settings.py (the CLI's options) and serving.py (a real socket) each do one job.
"""
