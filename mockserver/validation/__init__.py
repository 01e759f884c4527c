"""What the mock accepts: the wire contract's schemas read once from contracts/ (schemas.py),
their messages in JSON terms (messages.py) and the event checks (events.py). Pure."""
