"""Sensor physics: profiles (and their TOMLs), noise in electrons and its kernels, optics and pixel
effects, photon-transfer calibration, the noise check.
"""
