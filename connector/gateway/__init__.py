"""The Segment-compatible gateway: Segment's HTTP Tracking API in front, a durable outbox, and a
worker that delivers mapped events to Pointillist.

app.py wires it; handlers.py (the /v1/* routes), admin.py (/_gateway/*), browser.py (Segment's
CDN paths: analytics.js and project settings), request_body.py (reading and inflating a body),
tracking.py (pure: reading Segment messages), planning.py (the tracking plan at the door),
outbox.py with outbox_database.py, outbox_sql.py and outbox_violations.py (SQLite), worker.py
(delivery), engage.py (scheduled Engage syncs), rendering.py (the one error renderer), keys.py
(typed app keys), settings.py (the CLI's options) and serving.py (a real socket) each do one
job.
"""
