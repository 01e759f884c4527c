"""The Engage (Personas) simulator: audience and computed-trait definitions (definitions.py), the
pure simulator that turns traffic into Engage identify messages (simulator.py), and replays on a
simulated schedule (schedule.py)."""
