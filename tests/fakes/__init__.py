"""Local HTTP servers that answer as metric backends do, for the source tests; each binds 127.0.0.1 only."""
