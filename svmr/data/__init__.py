"""Benchmarks: annotation reading, the paper's construction, procedural and real-footage sets."""
