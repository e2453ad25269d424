"""Dask pipelines that turn image sources into cfasim Zarr datasets."""
