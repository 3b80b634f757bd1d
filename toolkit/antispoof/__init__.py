"""antispoof: tiny face anti-spoofing (liveness) models for phones and boards.

Importing the package selects Keras 2 (``tf_keras``) for TensorFlow, which
tensorflow-model-optimization needs; it must happen before TensorFlow loads.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
