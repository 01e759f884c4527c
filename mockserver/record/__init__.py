"""The record: the file on disk and every file beside it (files.py names them and owns fsync
and the lock), its line format (format.py), the journal of entries (journal.py), snapshots
(snapshot.py, TinyDB's format), compaction, opening and loading (opening.py), and
verify/repair/export (tools.py). Imports state/ and below, never the service or HTTP."""
