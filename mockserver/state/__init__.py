"""The mock's state, pure (no I/O, no clock): the store (store.py), each tenant's documents
and indexes (tenant.py, documents.py, timeline.py), the identity graph (identity.py), actor
views and refusals. TinyDB is the format of snapshots and exports (record/), not the in-memory
layout, which is ours (tenant.py). Imports only the base modules and validation/."""
