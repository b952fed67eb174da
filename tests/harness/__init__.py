"""Real servers for the test suite, started on free loopback ports and stopped after."""
