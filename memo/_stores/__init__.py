"""Stores: the protocol, the in-process L1 and the tiered store over an L2 backend."""
