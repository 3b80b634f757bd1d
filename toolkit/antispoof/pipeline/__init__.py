"""Pipelines over the stages: build (contract, train, quantize, evaluate), search, export, demo."""
