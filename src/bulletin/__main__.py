"""`python -m bulletin`: the same CLI, used by the supervisor to start worker processes."""

from bulletin.cli.main import main

main()
