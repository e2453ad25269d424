"""`cfasim generate`: plan every sample, render shards, build the store with Dask (one task per
shard).
"""
