"""Simulation of a RAW mosaic from linear camera RGB: the fused Numba colour chain and its kernels,
Philox noise streams, Gaussian (Poisson-Gaussian) noise models.
"""
