"""Benchmarks of word_predictor: run each as python -m benchmarks.NAME [--quick] (see docs/benchmarks.md)."""
