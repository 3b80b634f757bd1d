"""Evaluation: metrics, scoring a model on a split, explanations, the HTML report."""
