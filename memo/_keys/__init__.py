"""Cache keys: call normalisation, canonical encoding, the key builder, writer-to-reader maps."""
