"""Evaluation without torch: classical baselines, metrics, the evaluation engine and its report;
trained models arrive as callables.
"""
