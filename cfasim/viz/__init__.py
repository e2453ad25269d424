"""Looking at a dataset: the preview grid of ``cfasim view`` and of every dataset card.

Modules: :mod:`~cfasim.viz.panels` (the pictures of one sample as arrays: the mosaic in false
colour and as grey RAW, the clean image rendered for display, a nearest-neighbour zoom),
:mod:`~cfasim.viz.captions` (the caption text), :mod:`~cfasim.viz.preview` (reading samples
of a split and drawing the grid as PNG; matplotlib, imported only when a grid is drawn).
"""
