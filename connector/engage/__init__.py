"""The Engage (Personas) simulator.

definitions.py   audience and computed-trait definitions as values, loaded from YAML/JSON
validation.py    checks a definitions document against definitions.schema.json, every problem
keys.py          name → snake_cased key, deterministic ids
conditions.py    `where` filters and the JSON value comparisons they rest on
simulator.py     the pure simulator: observes traffic, computes values, decides what changed
profiles.py      the stitched users it computes on (userId + anonymousId links)
sync_messages.py the Segment messages a sync sends for each change
schedule.py      replays traffic on a simulated sync schedule
"""
