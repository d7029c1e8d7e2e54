"""Contract execution: the sandbox, the context and the block executor."""
