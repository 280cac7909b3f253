"""The decorators: one module per strategy, each validating its options at decoration."""
