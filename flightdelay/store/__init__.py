"""The MongoDB store as the platform uses it, on either deployment.

- ``indexes``: which fields each collection is filtered by, and the indexes that serve them
  (GIN ``jsonb_path_ops`` on FerretDB/PostgreSQL, native indexes on MongoDB);
- ``queries``: the only filter shapes the platform sends, each one FerretDB pushes down;
- ``retention``: predictions kept for a number of days, the history kept to its window;
- ``postgres``: the embedded PostgreSQL's roles, passwords and connections.
"""
