"""Foundations every stage shares: errors, terminal output, atomic files, the run folder, the
model contract, the shipped model, Ray."""
