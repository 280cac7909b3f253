"""The `memo` command line: the app and one module per command."""
