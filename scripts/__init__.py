"""Developer entry points (run the local stack, benchmarks)."""
