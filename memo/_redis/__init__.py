"""The Redis tier: clients, commands and scripts, resilience, coherence and the store."""
