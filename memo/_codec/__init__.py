"""The only place where values become bytes: the entry envelope and the serializers."""
