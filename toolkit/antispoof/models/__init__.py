"""Models: a registry of named specs (MobileNetV2 widths and depths, EfficientNet-B0), their
builders and layers."""
