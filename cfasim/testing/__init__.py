"""Shared by the tests: the plain-NumPy reference twins of the kernels and builders of tiny stores
and source files.
"""
