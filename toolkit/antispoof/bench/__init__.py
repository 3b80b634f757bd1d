"""Benchmarks of model files: latency here, over ssh and adb, and ARM parity under qemu."""
