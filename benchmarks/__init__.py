"""The performance lab: speed, memory and store benchmarks, run from a checkout (not installed)."""
