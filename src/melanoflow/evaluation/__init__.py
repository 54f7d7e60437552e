"""Evaluation: ISIC challenge metrics with bootstrap intervals, VisualBackProp, figures and the report."""
