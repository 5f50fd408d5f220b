"""The chunk pipeline: codec chain, thread pool and the batched read/write engine."""
