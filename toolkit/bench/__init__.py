"""Benchmarks of model files: latency on this machine, over ssh and adb, and ARM parity under qemu."""
