"""`cfasim generate` as a library: plan every sample, render shards, build the store with Dask
(one task per shard)::

    from cfasim.pipeline import GenerateConfig, build, plan

    build(plan(GenerateConfig(pattern="nona", count=64)), "nona.zarr")
"""

from cfasim.pipeline.builder import build
from cfasim.pipeline.planning import plan
from cfasim.store.generate_config import GenerateConfig

__all__ = ["GenerateConfig", "build", "plan"]
