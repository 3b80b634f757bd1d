"""Data: source adapters, prepare (video → face crops), face detection, datasets and protocols,
packing, synthetic attacks."""
