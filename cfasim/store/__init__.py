"""The on-disk dataset (Zarr v3): schema and status, the file layer (local or fsspec), the
generation config, output safety (lock, staging), checksums, validation, the dataset card.
"""
