"""The training loop: data, model, losses, distillation, checkpoints with exact resume, metrics,
plots; CPU, one GPU, or ``torchrun`` (DDP, gloo on CPU / nccl on GPU).

The checkpoint format lives in :mod:`cfasim.train.checkpoint`.
"""

from __future__ import annotations

import logging
import math
import os
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from cfasim.data.reader import open_dataset
from cfasim.errors import CheckpointError, ConfigError
from cfasim.eval.metrics import psnr as psnr_np
from cfasim.isp.render import render_reference, render_reference_linear
from cfasim.progress import progress_bar
from cfasim.store.schema import has_isp_params
from cfasim.train.cfa_adapter import CFAAdapter, clean_to_s2d, convention_settings
from cfasim.train.checkpoint import (
    CHECKPOINT_FORMAT,
    adapter_record,
    check_resumable,
    load_checkpoint,
    model_from_checkpoint,
    one_line,
    save_checkpoint,
)
from cfasim.train.config import TrainConfig, as_config
from cfasim.train.data import CFADataset, ShardAwareSampler
from cfasim.train.distill import Distiller, Stage
from cfasim.train.losses import build_loss, psnr, ssim
from cfasim.train.metrics_log import MetricsLog
from cfasim.train.models import build_model, count_parameters

__all__ = [
    "Trainer",
    "assistant_chain",
    "configure_threads",
    "default_stages",
    "default_thread_count",
    "train",
]

CLEAN_CHANNELS = 12  # clean linear RGB, space-to-depth by 2 (the clean-image teacher's input)

logger = logging.getLogger("cfasim.train")
"""Where a run's messages go when no ``log`` callable is given (INFO; ``cfasim -q`` hides
them, the CLI prints them on stderr)."""


def _messages(log):
    """The message function of ``log``: a callable given by the caller, else :data:`logger`."""
    return logger.info if log is None else log


# -- set-up helpers -------------------------------------------------------------------------------


def dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment (0, 1, 0 when absent)."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device of ``train.device`` (``auto``: the GPU of this rank if there is one)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("train.device is 'cuda' but no GPU is available")
        return torch.device("cuda", local_rank)
    return torch.device(name)


def init_process_group(device: torch.device, world: int) -> None:
    """Join torchrun's process group (nccl on GPU, gloo on CPU) when there are several ranks."""
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")


def data_parallel(model: torch.nn.Module, device: torch.device, world: int) -> torch.nn.Module:
    """``model`` wrapped in DistributedDataParallel when there are several ranks, else itself."""
    if world == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    partial_graph = getattr(model, "level", 0) not in (0, None)  # PyNET level > 0
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=ids, find_unused_parameters=partial_graph
    )


def seed_everything(seed: int) -> None:
    """Seed torch (weights init, dropout); data randomness is keyed by (seed, epoch, index)."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def model_with_inputs(spec: dict, in_channels: int):
    """Build the model of a ``[model]`` spec, giving it the adapter's channel count."""
    args = dict(spec.get("args", {}))
    args.setdefault("in_channels", in_channels)
    model = build_model({"name": spec["name"], "args": args})
    return model, {"name": spec["name"], "args": args}


def warm_start(model: torch.nn.Module, path, device, log=None) -> None:
    """Load the weights of checkpoint ``path`` (``train.init``) into ``model`` where names
    match, e.g. PyNET level L from the level L+1 run; log what did not match."""
    state = load_checkpoint(path, map_location=device)["model"]
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # same names, other shapes
        raise CheckpointError(f"train.init {path}: {one_line(err)}") from None
    _messages(log)(
        f"initialised from {path} ({len(missing)} missing, {len(unexpected)} unexpected keys)"
    )


def lr_scheduler(optimizer, schedule: str, steps: int):
    """The ``train.lr_schedule`` of a run: ``cosine`` (to 0 at ``steps``) or ``constant``."""
    if schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
        )
    if schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    raise ConfigError(f"train.lr_schedule must be 'cosine' or 'constant', got {schedule!r}")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def one_minute_load() -> float:
    """The 1-minute load average (0 where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def default_thread_count(cpus: int, load: float, data_workers: int, processes: int = 1) -> int:
    """Torch threads per training process when ``train.threads`` is unset: the CPUs left after
    the data-loader workers of every process and the cores already busy (the load, rounded),
    shared among the ``processes`` on this machine; at least 1. More threads than free cores
    makes every step wait for the slowest thread (a busy core slowed 2 threads 4-30x)."""
    free = cpus - processes * data_workers - round(load)
    return max(1, free // max(1, processes))


def configure_threads(cfg: TrainConfig | dict, log=None) -> int:
    """Set torch's intra-op threads from ``train.threads`` or :func:`default_thread_count`,
    and log the choice (``cfg``: a config, or a dict with at least those sections' keys;
    ``log``: a message callable, default the ``cfasim.train`` logger)."""
    config = as_config(cfg)
    log = _messages(log)
    chosen = config.train.threads
    if chosen:
        torch.set_num_threads(chosen)
        log(f"torch threads: {chosen} (train.threads)")
        return chosen
    cpus, load = available_cpus(), one_minute_load()
    workers = config.data.num_workers
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    threads = default_thread_count(cpus, load, workers, processes)
    torch.set_num_threads(threads)
    per = f", {processes} processes" if processes > 1 else ""
    log(
        f"torch threads: {threads} ({cpus} CPUs, load {load:.1f}, {workers} data workers{per}; "
        "set train.threads to choose)"
    )
    return threads


def default_stages(mode: str, steps: int) -> list[Stage]:
    """Stages of a distillation mode when the config gives none (documented in docs/training.md)."""
    if mode == "output":
        return [Stage(gt_weight=1.0, output_weight=1.0)]
    if mode == "progressive":  # level 1 features first, then full output + ground truth
        first = max(1, steps // 3)
        return [
            Stage(steps=first, gt_weight=0.0, feature_weight=1.0, features=[("level1", "level1")]),
            Stage(
                gt_weight=1.0,
                output_weight=1.0,
                feature_weight=0.1,
                features=[("level1", "level1")],
            ),
        ]
    if mode == "heterogeneous":
        return [Stage(gt_weight=1.0, output_weight=0.5, feature_weight=0.5, features=[])]
    return [Stage()]


# -- the run ------------------------------------------------------------------------------------


class Trainer:
    """Everything a run needs, built from a config (:mod:`cfasim.train.config`): a
    :class:`~cfasim.train.config.TrainConfig` or its plain dict (as ``load_config`` returns).

    ``config`` is the typed config; ``cfg`` the same as plain dicts (what checkpoints store).

    Messages go to the ``cfasim.train`` logger (INFO) unless a ``log`` callable is given
    (e.g. ``print``, the default before cfasim used :mod:`logging`). Metrics go to
    OUT/metrics.jsonl, OUT/metrics.csv and TensorBoard (:mod:`cfasim.train.metrics_log`).
    ``progress``: the step bar on stderr (None: on a terminal unless ``cfasim -q``).
    """

    def __init__(self, cfg: TrainConfig | dict, log=None, progress: bool | None = None):
        self.config = as_config(cfg).validate()
        self.progress = progress
        self._set_up_process(log)
        self._set_up_datasets()
        self._set_up_model()
        self._set_up_losses()
        self._set_up_optimizer()
        self.net = data_parallel(self.model, self.device, self.world)
        self._set_up_sampler()
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0

    @property
    def cfg(self) -> dict:
        """The config as plain dicts (a fresh copy)."""
        return self.config.to_dict()

    # -- construction, in order --

    def _set_up_process(self, log) -> None:
        """Rank and world size, logging (rank 0 only), threads, device, process group, seed."""
        self.rank, self.world, local = dist_info()
        self.log = _messages(log) if self.rank == 0 else (lambda *a, **k: None)
        self.threads = configure_threads(self.config, self.log)
        self.device = resolve_device(self.config.train.device, local)
        init_process_group(self.device, self.world)
        seed_everything(self.config.train.seed)
        self.out = Path(self.config.train.out)
        self.metrics = MetricsLog(self.out)

    def _set_up_datasets(self) -> None:
        """The training split (random crops, augmented) and the validation split."""
        data = self.config.data
        self.model_input = self.config.model.input
        clean = self.config.distill.mode == "heterogeneous" or self.model_input == "clean"
        self.train_set = CFADataset(
            data.dataset,
            split=data.train_split,
            crop=data.crop,
            augment=data.augment,
            with_clean=clean,
            seed=self.config.train.seed,
            task=data.task,
            crops_per_sample=data.crops_per_sample,
        )
        self.val_set = CFADataset(
            data.dataset,
            split=data.val_split,
            crop=data.val_crop,
            augment=False,
            with_clean=self.model_input == "clean",
            task=data.task,
        )

    def _set_up_model(self) -> None:
        """The CFA adapter of the dataset, the model on the device (PyNET level, warm start),
        and the check that crops fit the model."""
        spec, ds, tcfg = self.config.model, self.train_set, self.config.train
        order, normalize = convention_settings(
            spec.input_convention, ds.black_level, ds.white_level, spec.packing
        )
        self.adapter = CFAAdapter(
            ds.pattern,
            packing=spec.packing,
            with_mask=spec.with_mask,
            normalize=normalize,
            order=order,
            convention=spec.input_convention,
            condition=spec.condition,
        )
        self._check_condition(spec.condition)
        channels = CLEAN_CHANNELS if self.model_input == "clean" else self.adapter.in_channels
        self.model, self.model_spec = model_with_inputs(
            {"name": spec.name, "args": spec.args}, channels
        )
        self.model.to(self.device)
        if tcfg.level is not None and hasattr(self.model, "level"):
            self.model.level = tcfg.level
        if tcfg.init:
            warm_start(self.model, tcfg.init, self.device, self.log)
        self._check_sizes(self.config.data.crop, ds.scale)
        if len(self.val_set):
            side = self.config.data.val_crop or min(self.val_set.height, self.val_set.width)
            self._check_sizes(side, self.val_set.scale, what="data.val_crop")

    def _check_condition(self, condition: str) -> None:
        """A conditioned model needs the metadata stored for every sample it trains on."""
        needs = {"white balance": self.adapter.uses_wb, "noise levels": self.adapter.uses_noise}
        for name, ds in (("train", self.train_set), ("validation", self.val_set)):
            missing = [what for what, need in needs.items() if need and not ds.stores(what)]
            if missing:
                raise ConfigError(
                    f"model.condition = {condition!r} needs every sample's "
                    f"{' and '.join(missing)}; the {name} split of {ds.path} does not store them "
                    '(captured pairs?): use model.condition = "none"'
                )

    def _set_up_losses(self) -> None:
        """The ground-truth loss and, with ``distill.mode``, the teacher and its distiller."""
        self.loss_fn = build_loss(self.config.train.loss).to(self.device)
        self._check_loss_size()
        self.steps = self.config.train.steps
        self.distiller = None
        self.teacher_adapter = None
        self.teacher_input = None
        if self.config.distill.mode != "none":
            self._build_distiller(self.config.distill.mode)

    def _set_up_optimizer(self) -> None:
        """Adam over the model (and the distiller's 1x1 adapters), the LR schedule, AMP."""
        tcfg = self.config.train
        params = list(self.model.parameters())
        if self.distiller is not None:
            params += list(self.distiller.adapters.parameters())
        self.optimizer = torch.optim.Adam(params, lr=tcfg.lr, weight_decay=tcfg.weight_decay)
        self.scheduler = lr_scheduler(self.optimizer, tcfg.lr_schedule, self.steps)
        self.amp = tcfg.amp
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.device.type == "cuda")

    def _set_up_sampler(self) -> None:
        """The shard-aware batch sampler of this rank (full batches only)."""
        data = self.config.data
        self.sampler = ShardAwareSampler(
            self.train_set,
            data.batch_size,
            shuffle=True,
            seed=self.config.train.seed,
            rank=self.rank,
            world_size=self.world,
            drop_last=True,
        )
        if len(self.sampler) == 0:
            raise ConfigError(
                f"split {data.train_split!r} has {self.train_set.count} samples: not one batch "
                f"of {data.batch_size} per process; lower data.batch_size"
            )

    # -- construction details --

    def _check_sizes(self, crop: int, scale: int, what: str = "data.crop") -> None:
        multiple = getattr(self.model, "input_multiple", 1)
        try:
            if self.model_input == "clean":
                if crop % (2 * multiple):
                    raise ValueError(f"clean-input models need sizes divisible by {2 * multiple}")
                packed = crop // 2
            else:
                self.adapter.check_size(crop, crop, multiple, model=self.model_spec["name"])
                packed = self.adapter.packed_size(crop, crop)[0]
        except ValueError as err:
            raise ConfigError(f"{what} = {crop}: {err}") from None
        out = packed * self.model.output_scale
        if getattr(self.model, "level", 0) in (0, None) and out != crop * scale:
            raise ConfigError(
                f"model {self.model_spec['name']} with {self.adapter.packing} packing outputs "
                f"{out}x{out} for a {crop}x{crop} mosaic, but targets are {crop * scale}x"
                f"{crop * scale} (scale {scale}); change model.packing or the model's output_scale"
            )

    def output_side(self, crop: int) -> int:
        """The side of the supervised output for a ``crop`` x ``crop`` mosaic (a PyNET level
        ``L > 0`` outputs ``2 ** L`` times less than level 0)."""
        packed = (
            crop // 2 if self.model_input == "clean" else self.adapter.packed_size(crop, crop)[0]
        )
        level = getattr(self.model, "level", 0) or 0
        return packed * self.model.output_scale // 2**level

    def _check_loss_size(self) -> None:
        """Refuse, before step 1, an output smaller than the loss accepts (MS-SSIM, SSIM)."""
        need, crop = self.loss_fn.min_side, self.config.data.crop
        side = self.output_side(crop)
        if side < need:
            raise ConfigError(
                f"data.crop = {crop}: the model's output is {side}x{side}, but the loss "
                f"{dict(self.config.train.loss)} needs at least {need}x{need}; use larger crops "
                f"or drop ssim/ms_ssim from train.loss"
            )

    def _build_distiller(self, mode: str) -> None:
        dcfg = self.config.distill
        ckpt = load_checkpoint(dcfg.teacher, map_location=self.device)
        teacher, self.teacher_adapter = model_from_checkpoint(ckpt, dcfg.teacher)
        if self.teacher_adapter.pattern != self.adapter.pattern:
            raise ConfigError(
                f"teacher {dcfg.teacher} was trained on {self.teacher_adapter.pattern.name}, "
                f"the dataset is {self.adapter.pattern.name}"
            )
        teacher.to(self.device)
        teacher_input = "clean" if mode == "heterogeneous" else dcfg.teacher_input
        stages = [Stage.from_dict(s) for s in dcfg.stages] or default_stages(mode, self.steps)
        if mode == "heterogeneous" and not any(st.features for st in stages):
            common = sorted(set(self.model.feature_layers()) & set(teacher.feature_layers()))
            for st in stages:
                st.features = [(n, n) for n in common]
        batch = _batch_of(self.train_set[0])
        probe = (self._student_args(batch), self._teacher_args(batch, teacher_input))
        self.distiller = Distiller(self.model, teacher, stages, teacher_input, probe).to(
            self.device
        )
        self.teacher_input = teacher_input

    def _student_args(self, batch):
        if self.model_input == "clean":
            return (clean_to_s2d(batch["clean"].to(self.device)),)
        raw = batch["raw"].to(self.device)
        inp = self.adapter(raw, wb=batch.get("wb"), noise=batch.get("noise"))
        return inp["packed"], inp["mosaic"]

    def _teacher_args(self, batch, teacher_input):
        if teacher_input == "clean":
            return (clean_to_s2d(batch["clean"].to(self.device)),)
        raw = batch["raw"].to(self.device)
        inp = self.teacher_adapter(raw, wb=batch.get("wb"), noise=batch.get("noise"))
        return inp["packed"], inp["mosaic"]

    # -- checkpoints --

    def state(self) -> dict:
        """Everything a checkpoint holds (:mod:`cfasim.train.checkpoint`), as plain data."""
        return {
            "format": CHECKPOINT_FORMAT,
            "model_spec": self.model_spec,
            "model": self.model.state_dict(),
            "adapter": adapter_record(self.adapter, self.model_input),
            "distill_adapters": (self.distiller.adapters.state_dict() if self.distiller else None),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "config": self.cfg,
            "rng": {"torch": torch.get_rng_state()},
        }

    def save(self, path: Path | None = None) -> Path:
        """Write the checkpoint (rank 0 only; atomically) to ``path`` or OUT/checkpoint.pt."""
        path = path or self.out / "checkpoint.pt"
        if self.rank != 0:
            return path
        return save_checkpoint(self.state(), path)

    def resume(self, path: Path | None = None) -> None:
        """Continue exactly from a checkpoint (default OUT/checkpoint.pt) of the same model."""
        path = path or self.out / "checkpoint.pt"
        ckpt = load_checkpoint(path, map_location=self.device)
        check_resumable(path, ckpt, self.model_spec)
        self.model.load_state_dict(ckpt["model"])
        if self.distiller is not None and ckpt["distill_adapters"] is not None:
            self.distiller.adapters.load_state_dict(ckpt["distill_adapters"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.step, self.epoch = ckpt["step"], ckpt["epoch"]
        self.batch_in_epoch = ckpt["batch_in_epoch"]
        torch.set_rng_state(ckpt["rng"]["torch"].cpu())
        self._truncate_metrics()
        self.log(f"resumed from step {self.step}")

    def _truncate_metrics(self) -> None:
        """Drop the records of steps after the checkpoint's from every metrics output."""
        if self.rank == 0:
            self.metrics.truncate(self.step)

    def _metric(self, record: dict) -> None:
        if self.rank == 0:
            self.metrics.append(record)

    # -- training --

    def _batches(self):
        """Batches from the current (epoch, position) on, forever; resumable exactly."""
        while True:
            self.sampler.set_epoch(self.epoch)
            self.train_set.set_epoch(self.epoch)
            batches = list(self.sampler)[self.batch_in_epoch :]
            loader = torch.utils.data.DataLoader(
                self.train_set,
                batch_sampler=batches,
                num_workers=self.config.data.num_workers,
                persistent_workers=False,
            )
            for batch in loader:
                self.batch_in_epoch += 1
                yield batch
            self.epoch += 1
            self.batch_in_epoch = 0

    def _autocast(self):
        if not self.amp:
            return nullcontext()
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype)

    def train_step(self, batch) -> dict[str, float]:
        """One optimisation step on ``batch``; the loss and its parts, as floats."""
        self.net.train()
        target = batch["target"].to(self.device)
        stage = self.distiller.stage_at(self.step) if self.distiller else Stage()
        with self._autocast():
            out = self.net(*self._student_args(batch))
            if out.shape[-2:] != target.shape[-2:]:  # PyNET level-wise: coarser targets
                target = F.interpolate(target, size=out.shape[-2:], mode="area")
            out = out.float()
            total, parts = self.loss_fn(out, target)
            total = stage.gt_weight * total
            parts = {k: stage.gt_weight * v for k, v in parts.items()}
            if self.distiller is not None:
                t_out = self.distiller.teacher_forward(
                    self._teacher_args(batch, self.teacher_input)
                )
                extra = self.distiller.losses(stage, out, t_out.float())
                for k, v in extra.items():
                    total = total + v
                    parts[k] = v
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        return {"loss": float(total.detach()), **{k: float(v.detach()) for k, v in parts.items()}}

    def fit(self, stop_after: int | None = None) -> dict:
        """Train to ``train.steps`` (or stop early after ``stop_after`` steps, as if killed)."""
        tcfg = self.config.train
        self.log(
            f"model {self.model_spec['name']}: {count_parameters(self.model):,} parameters; "
            f"{self.train_set.count} training samples; {self.steps} steps on {self.device}"
            + (f" x {self.world} processes" if self.world > 1 else "")
        )
        t0 = time.perf_counter()
        batches = self._batches()
        last = {}
        counted = False
        bar = self._progress_bar()
        try:
            while self.step < self.steps:
                if stop_after is not None and self.step >= stop_after:
                    return last
                if counted:
                    last = self.train_step(next(batches))
                else:
                    last, counted = self._counted_step(next(batches)), True
                final = self.step == self.steps
                logged = self.step % tcfg.log_every == 0 or final
                if logged:
                    self._log_step(last, time.perf_counter() - t0)
                if (self.step % tcfg.val_every == 0 or final) and len(self.val_set):
                    last.update(self._log_validation())
                if self.step % tcfg.checkpoint_every == 0 or final:
                    self.save()
                bar.update(1)
                bar.set_postfix_str(progress_text(last), refresh=logged)  # redrawn when logged
        finally:
            bar.close()
            self.metrics.close()
        if self.rank == 0:
            self.save(self.out / "model.pt")
            from cfasim.train.plots import plot_run

            plot_run(self)
        return last

    def _progress_bar(self):
        """The step bar of this run (rank 0): ETA, steps per second, loss and PSNR."""
        bar = progress_bar(
            desc="train",
            total=self.steps,
            unit="step",
            enabled=False if self.rank != 0 else self.progress,
        )
        bar.update(self.step)  # resumed runs start where the checkpoint was
        return bar

    def _counted_step(self, batch) -> dict[str, float]:
        """:meth:`train_step`, counting its FLOPs (``torch.utils.flop_counter``: convolutions and
        matrix products of the student's forward and backward pass, the teacher's forward pass
        and the distillation adapters; element-wise ops and the optimiser are not counted).

        The count, times the number of processes, is recorded as ``train_flops_per_step`` in
        OUT/metrics.jsonl: a run's training compute is that times its steps, which is how
        budgets of runs with and without a teacher are compared (docs/training.md).
        """
        with FlopCounterMode(display=False) as counter:
            losses = self.train_step(batch)
        self.flops_per_step = int(counter.get_total_flops()) * self.world
        self._metric({"step": self.step, "train_flops_per_step": self.flops_per_step})
        self.log(
            f"training compute: {self.flops_per_step / 1e9:.2f} GFLOP per step, "
            f"{self.flops_per_step * self.steps / 1e12:.2f} TFLOP for {self.steps} steps"
        )
        return losses

    def _log_step(self, losses: dict, elapsed: float) -> None:
        """Record and print the losses, learning rate and time of this step."""
        rec = {
            "step": self.step,
            **losses,
            "lr": self.scheduler.get_last_lr()[0],
            "time": round(elapsed, 3),
        }
        self._metric(rec)
        self.log(
            " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items())
        )

    def _log_validation(self) -> dict[str, float]:
        """Validate, record and print the result; return it."""
        val = self.validate()
        self._metric({"step": self.step, **val})
        self.log(
            f"step {self.step} val psnr {val['val_psnr']:.2f} dB "
            f"(reference {val['baseline_psnr']:.2f} dB)"
        )
        return val

    # -- validation --

    @torch.no_grad()
    def predict(self, batch: dict) -> torch.Tensor:
        """A batch of dataset items -> (N, 3, H', W') sRGB predictions."""
        self.model.eval()
        with self._autocast():
            return self.model(*self._student_args(batch)).float().clamp(0, 1)

    def validate(self) -> dict[str, float]:
        """Mean PSNR/SSIM on the validation split, and the reference pipeline's PSNR."""
        n = len(self.val_set)
        if n == 0:
            return {}
        limit = self.config.data.val_samples
        idx = range(n if limit is None else min(n, limit))
        ps, ss = [], []
        for i in idx:
            item = self.val_set[i]
            pred = self.predict(_batch_of(item))
            target = item["target"][None].to(self.device)
            if pred.shape[-2:] != target.shape[-2:]:
                target = F.interpolate(target, size=pred.shape[-2:], mode="area")
            ps.append(float(psnr(pred, target).mean()))
            ss.append(float(ssim(pred, target)) if min(pred.shape[-2:]) >= 11 else math.nan)
        return {
            "val_psnr": float(np.mean(ps)),
            "val_ssim": float(np.mean(ss)),
            "baseline_psnr": self.baseline_psnr(list(idx)),
        }

    def baseline_psnr(self, indices) -> float:
        """PSNR of tent demosaic + reference process on the same validation samples (cached);
        NaN for real captured pairs (no ISP parameters to render with)."""
        if getattr(self, "_baseline", None) is None:
            self._baseline = self._reference_psnr(indices)
        return self._baseline

    def _reference_psnr(self, indices) -> float:
        dataset = open_dataset(self.config.data.dataset)
        if not has_isp_params(dataset.config):
            return float("nan")
        split = dataset[self.config.data.val_split]
        values = []
        for i in indices:
            item = self.val_set[i]
            raw, pattern = item["raw"].numpy(), self.adapter.pattern
            levels = (self.val_set.black, self.val_set.white)  # the store's RAW levels
            if self.config.data.task == "linear":
                gains = split.params(i).channel_gains
                ref = render_reference_linear(raw, pattern, gains, *levels)
            else:
                ref = render_reference(raw, pattern, split.params(i), *levels, self.val_set.scale)
            tgt = item["target"].permute(1, 2, 0).numpy().astype(np.float64)
            values.append(min(psnr_np(ref, tgt), 120.0))  # capped: identical images are inf
        return float(np.mean(values))


def progress_text(losses: dict) -> str:
    """The postfix of the training bar: the last loss and, once validated, the val PSNR."""
    parts = []
    if "loss" in losses:
        parts.append(f"loss {losses['loss']:.4g}")
    if "val_psnr" in losses:
        parts.append(f"psnr {losses['val_psnr']:.2f} dB")
    return ", ".join(parts)


def _batch_of(item: dict) -> dict:
    """A dataset item as a batch of one."""
    return {k: v[None] if torch.is_tensor(v) else v for k, v in item.items()}


def assistant_chain(cfg: TrainConfig | dict) -> list[TrainConfig]:
    """Configs of a teacher-assistant chain (progressive reading B): each model in
    ``distill.assistants`` is trained by output distillation from the previous one (the first
    from ``distill.teacher``) into ``OUT/assistant-K``, then the student from the last."""
    config = as_config(cfg)
    out, teacher = Path(config.train.out), config.distill.teacher
    runs = []
    for k, spec in enumerate(config.distill.assistants):
        run = as_config(
            replace(
                config,
                model=replace(config.model, name=spec["name"], args=spec.get("args", {})),
                train=replace(config.train, out=str(out / f"assistant-{k + 1}")),
                distill=replace(
                    config.distill, mode="output", teacher=teacher, stages=[], assistants=[]
                ),
            )
        )
        runs.append(run)
        teacher = str(Path(run.train.out) / "model.pt")
    final = replace(config, distill=replace(config.distill, teacher=teacher, assistants=[]))
    return [*runs, as_config(final)]


def train(
    cfg: TrainConfig | dict,
    resume: bool = False,
    stop_after: int | None = None,
    log=None,
    progress: bool | None = None,
) -> Trainer:
    """Build a :class:`Trainer` from a config, optionally resume, and fit (running the
    teacher-assistant chain first when ``distill.assistants`` is set). ``log``: a message
    callable (default: the ``cfasim.train`` logger); ``progress``: the step bar (None: on a
    terminal)."""
    config = as_config(cfg)
    if config.distill.assistants:
        *chain, config = assistant_chain(config)
        for run in chain:
            out = Path(run.train.out)
            if resume and (out / "model.pt").exists():
                continue  # finished assistant
            _messages(log)(f"teacher assistant -> {out}")
            again = resume and (out / "checkpoint.pt").exists()
            train(run, resume=again, log=log, progress=progress)
    trainer = Trainer(config, log=log, progress=progress)
    if resume:
        trainer.resume()
    trainer.fit(stop_after=stop_after)
    return trainer
