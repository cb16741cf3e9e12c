"""axonite's tests; tests.support holds what they share (tests/README.md: the layout)."""
