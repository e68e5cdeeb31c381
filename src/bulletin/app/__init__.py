"""Use cases: what an operator can do, whichever interface (CLI, web) asks for it."""
