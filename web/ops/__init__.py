"""For operations: liveness, readiness and Prometheus metrics."""
