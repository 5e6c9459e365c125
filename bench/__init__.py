"""Benchmarks: what a mentorship costs against the floor Temporal itself imposes (see bench/README.md)."""
