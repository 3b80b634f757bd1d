"""Compression: contraction of a pretrained MobileNetV2, size budgets, quantization (ptq, qat,
float16)."""
