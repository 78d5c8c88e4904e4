//! Holds only tests (see `tests/it`): the client core against a real in-process server.
