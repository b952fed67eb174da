"""Local HTTP servers that respond as metric backends do, for the source tests; each binds 127.0.0.1 only."""
