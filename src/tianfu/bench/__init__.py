"""`tianfu bench`: measure a local network's finalized throughput and latency against this
machine's own Ed25519 ceiling (see docs/performance.md, "How we measure")."""
