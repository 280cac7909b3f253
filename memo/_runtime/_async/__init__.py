"""The runtime's I/O code in one colour (see `memo/_runtime/__init__.py`)."""
