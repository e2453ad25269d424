"""The camera ISP as maths: colour (transfer curves, matrices, white balance), the invertible steps
of process/unprocess, demosaicing and the reference rendering of stored RAW.
"""
