"""Seeded Segment traffic: the faker scenario generator (generate.py and the modules it draws on)
and the replay of recorded messages through the official Segment Python SDK (sdk_replay.py)."""
