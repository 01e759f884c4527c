"""The mock on the wire: app wiring (app.py), the route table (routes.py), ingest handlers,
the inspection API (admin.py), the live feed (stream.py), fault answers (faults.py), request
parsing, middlewares and the server. It reaches the state through service/ only."""
