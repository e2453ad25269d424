"""The training loop: data, model, losses, distillation, checkpoints with exact resume, metrics,
plots; CPU, one GPU, or ``torchrun`` (DDP, gloo on CPU / nccl on GPU)."""

from __future__ import annotations

import json
import math
import os
import re
import time
import warnings
import zipfile
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import zarr

from cfasim.data.reader import sample_params
from cfasim.errors import CheckpointError
from cfasim.isp.render import render_reference
from cfasim.store.schema import has_isp_params
from cfasim.train.cfa_adapter import CFAAdapter, clean_to_s2d
from cfasim.train.data import CFADataset, ShardAwareSampler
from cfasim.train.distill import Distiller, Stage
from cfasim.train.losses import build_loss, psnr, ssim
from cfasim.train.models import build_model, count_parameters

CHECKPOINT_FORMAT = 1
CLEAN_CHANNELS = 12  # clean linear RGB, space-to-depth by 2 (the clean-image teacher's input)


# -- set-up helpers -------------------------------------------------------------------------------


def dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment (0, 1, 0 when absent)."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("train.device is 'cuda' but no GPU is available")
        return torch.device("cuda", local_rank)
    return torch.device(name)


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


CHECKPOINT_KEYS = ("model_spec", "model", "adapter")
"""Keys every cfasim checkpoint has (the model and its CFA adapter); see :meth:`Trainer.state`."""
RESUME_KEYS = ("optimizer", "scheduler", "scaler", "step", "epoch", "batch_in_epoch", "rng")
"""The further keys ``--resume`` needs."""


def load_checkpoint(path, map_location="cpu") -> dict:
    """A cfasim checkpoint, read with ``torch.load(weights_only=True)``: tensors and plain data
    only, so a crafted file can never run code while it is read.

    Raises
    ------
    CheckpointError
        One line naming the file and what is wrong with it: missing, not a file, refused
        (it pickles code or objects), not a torch file (empty, text, truncated, damaged, a
        foreign zip), or a torch file that is not a cfasim checkpoint.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": refused anyway
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for unreadable files; all mean "bad file"
        raise CheckpointError(load_failure_message(path, err)) from err
    check_checkpoint_content(path, ckpt)
    return ckpt


def load_failure_message(path: Path, err: Exception) -> str:
    """One line saying why ``torch.load(path, weights_only=True)`` failed with ``err``."""
    refused = re.search(r"GLOBAL ([\w.]+)", str(err))
    if refused:
        return (
            f"refused to load checkpoint {path}: it would import {refused.group(1)} (pickled "
            "code or objects); a cfasim checkpoint holds only tensors and plain data"
        )
    kind = file_kind(path)
    if kind.startswith("a zip archive"):  # torch's reason says which part it could not read
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        kind += f" ({lines[0][:120]})" if lines else ""
    return f"checkpoint {path} is not a torch checkpoint file: {kind}"


def file_kind(path: Path) -> str:
    """A few words on what a file that torch cannot load looks like."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "the file is empty"
    if head.startswith(b"PK\x03\x04"):
        if zipfile.is_zipfile(path):
            return "a zip archive that torch cannot read as a checkpoint"
        return "a truncated or damaged zip archive"
    if head.startswith(b"\x80"):
        return "pickle data that is truncated, damaged or not from torch.save"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "unrecognised binary data"
    return "a text file" if b"\0" not in head else "unrecognised binary data"


def check_checkpoint_content(path: Path, ckpt) -> None:
    """Refuse loaded data that is not a cfasim checkpoint of :data:`CHECKPOINT_FORMAT`."""
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        what = type(ckpt).__name__ if not isinstance(ckpt, dict) else "dict without 'format'"
        raise CheckpointError(f"{path} is not a cfasim training checkpoint (a torch {what})")
    if ckpt["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is a cfasim checkpoint of format {ckpt['format']!r}; this version reads "
            f"format {CHECKPOINT_FORMAT}"
        )
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt.get(k), dict)]
    if missing:
        raise CheckpointError(f"{path} is a damaged cfasim checkpoint: no {', '.join(missing)}")


def check_plain(value, where: str = "checkpoint") -> None:
    """Raise TypeError (a bug) unless ``value`` is plain data that ``torch.load(...,
    weights_only=True)`` reads back: dict / OrderedDict / list / tuple of None, bool, int,
    float, str and tensors. Types are compared exactly: numpy scalars (``np.float64`` is a
    float subclass), paths and other objects are refused."""
    if value is None or type(value) in _PLAIN_SCALARS or isinstance(value, torch.Tensor):
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            check_plain(key, f"{where} key {key!r}")
            check_plain(item, f"{where}[{key!r}]")
        return
    if type(value) in (list, tuple, torch.Size):
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]")
        return
    raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}, not plain")


_PLAIN_SCALARS = (bool, int, float, str)


def model_from_checkpoint(ckpt: dict, source="checkpoint"):
    """(model in eval mode, adapter) of a loaded checkpoint; ``source`` (its path) names it in
    the CheckpointError raised when the stored spec, weights or adapter do not fit together."""
    from cfasim.cfa import CFAPattern

    try:
        model = build_model(ckpt["model_spec"])
        model.load_state_dict(ckpt["model"])
        a = ckpt["adapter"]
        adapter = CFAAdapter(
            CFAPattern.from_dict(a["pattern"]),
            packing=a["packing"],
            with_mask=a["with_mask"],
            normalize=tuple(a["normalize"]),
        )
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{source} is a damaged cfasim checkpoint: {one_line(err)}") from err
    model.eval()
    return model, adapter


def one_line(err: BaseException, limit: int = 200) -> str:
    """An exception's message on one line (its lines joined by "; "), at most ``limit`` long."""
    text = "; ".join(ln.strip() for ln in str(err).splitlines() if ln.strip())
    text = text.replace(":; ", ": ") or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def configure_threads(cfg: dict, log) -> int:
    """Set torch's intra-op threads from ``train.threads`` or :func:`default_thread_count`,
    and log the choice."""
    chosen = cfg["train"].get("threads")
    if chosen:
        torch.set_num_threads(int(chosen))
        log(f"torch threads: {int(chosen)} (train.threads)")
        return int(chosen)
    cpus, load = available_cpus(), one_minute_load()
    workers = int(cfg["data"]["num_workers"])
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
    """Everything a run needs, built from a config (see training/config.py)."""

    def __init__(self, cfg: dict, log=print):
        self.cfg = cfg
        self.rank, self.world, local = dist_info()
        self.log = log if self.rank == 0 else (lambda *a, **k: None)
        tcfg, dcfg = cfg["train"], cfg["data"]
        self.threads = configure_threads(cfg, self.log)
        self.device = resolve_device(tcfg["device"], local)
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend)
        seed_everything(int(tcfg["seed"]))
        self.out = Path(tcfg["out"])
        mode = cfg["distill"]["mode"]
        self.model_input = cfg["model"]["input"]
        clean = mode == "heterogeneous" or self.model_input == "clean"
        self.train_set = CFADataset(
            dcfg["dataset"],
            split=dcfg["train_split"],
            crop=dcfg["crop"],
            augment=dcfg["augment"],
            with_clean=clean,
            seed=int(tcfg["seed"]),
        )
        self.val_set = CFADataset(
            dcfg["dataset"],
            split=dcfg["val_split"],
            crop=dcfg["val_crop"],
            augment=False,
            with_clean=self.model_input == "clean",
        )
        ds = self.train_set
        self.adapter = CFAAdapter(
            ds.pattern,
            packing=cfg["model"]["packing"],
            with_mask=cfg["model"]["with_mask"],
            normalize=(ds.black_level, ds.white_level),
        )
        channels = CLEAN_CHANNELS if self.model_input == "clean" else self.adapter.in_channels
        self.model, self.model_spec = model_with_inputs(cfg["model"], channels)
        self.model.to(self.device)
        if tcfg.get("level") is not None and hasattr(self.model, "level"):
            self.model.level = int(tcfg["level"])
        if tcfg.get("init"):  # warm start, e.g. PyNET level L from the level L+1 run
            state = load_checkpoint(tcfg["init"], map_location=self.device)["model"]
            try:
                missing, unexpected = self.model.load_state_dict(state, strict=False)
            except RuntimeError as err:  # same names, other shapes
                raise CheckpointError(f"train.init {tcfg['init']}: {one_line(err)}") from None
            self.log(
                f"initialised from {tcfg['init']} ({len(missing)} missing, "
                f"{len(unexpected)} unexpected keys)"
            )
        self._check_sizes(int(dcfg["crop"]), ds.scale)
        if len(self.val_set):
            side = int(dcfg["val_crop"] or min(self.val_set.height, self.val_set.width))
            self._check_sizes(side, self.val_set.scale, what="data.val_crop")
        self.loss_fn = build_loss(tcfg["loss"]).to(self.device)
        self.steps = int(tcfg["steps"])
        self.distiller = None
        self.teacher_adapter = None
        if mode != "none":
            self._build_distiller(mode)
        params = list(self.model.parameters())
        if self.distiller is not None:
            params += list(self.distiller.adapters.parameters())
        self.optimizer = torch.optim.Adam(
            params, lr=float(tcfg["lr"]), weight_decay=float(tcfg["weight_decay"])
        )
        if tcfg["lr_schedule"] == "cosine":
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer,
                lambda s: 0.5 * (1 + math.cos(math.pi * min(s, self.steps) / self.steps)),
            )
        elif tcfg["lr_schedule"] == "constant":
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: 1.0)
        else:
            raise ValueError(
                f"train.lr_schedule must be 'cosine' or 'constant', got {tcfg['lr_schedule']!r}"
            )
        self.net = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            partial_graph = getattr(self.model, "level", 0) not in (0, None)  # PyNET level > 0
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=partial_graph
            )
        self.amp = bool(tcfg["amp"])
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.device.type == "cuda")
        self.sampler = ShardAwareSampler(
            self.train_set,
            int(dcfg["batch_size"]),
            shuffle=True,
            seed=int(tcfg["seed"]),
            rank=self.rank,
            world_size=self.world,
            drop_last=True,
        )
        if len(self.sampler) == 0:
            raise ValueError(
                f"split {dcfg['train_split']!r} has {len(self.train_set)} samples: not one batch "
                f"of {dcfg['batch_size']} per process; lower data.batch_size"
            )
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0

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
            raise ValueError(f"{what} = {crop}: {err}") from None
        out = packed * self.model.output_scale
        if getattr(self.model, "level", 0) in (0, None) and out != crop * scale:
            raise ValueError(
                f"model {self.model_spec['name']} with {self.adapter.packing} packing outputs "
                f"{out}x{out} for a {crop}x{crop} mosaic, but targets are {crop * scale}x"
                f"{crop * scale} (scale {scale}); change model.packing or the model's output_scale"
            )

    def _build_distiller(self, mode: str) -> None:
        dcfg = self.cfg["distill"]
        ckpt = load_checkpoint(dcfg["teacher"], map_location=self.device)
        teacher, self.teacher_adapter = model_from_checkpoint(ckpt, dcfg["teacher"])
        if self.teacher_adapter.pattern != self.adapter.pattern:
            raise ValueError(
                f"teacher {dcfg['teacher']} was trained on {self.teacher_adapter.pattern.name}, "
                f"the dataset is {self.adapter.pattern.name}"
            )
        teacher.to(self.device)
        teacher_input = "clean" if mode == "heterogeneous" else dcfg["teacher_input"]
        stages = [Stage.from_dict(s) for s in dcfg["stages"]] or default_stages(mode, self.steps)
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
        inp = self.adapter(batch["raw"].to(self.device))
        return inp["packed"], inp["mosaic"]

    def _teacher_args(self, batch, teacher_input):
        if teacher_input == "clean":
            return (clean_to_s2d(batch["clean"].to(self.device)),)
        inp = self.teacher_adapter(batch["raw"].to(self.device))
        return inp["packed"], inp["mosaic"]

    # -- checkpoints --

    def state(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "model_spec": self.model_spec,
            "model": self.model.state_dict(),
            "adapter": {
                "input": self.model_input,
                "pattern": self.adapter.pattern.to_dict(),
                "packing": self.adapter.packing,
                "with_mask": self.adapter.with_mask,
                "normalize": list(self.adapter.normalize),
            },
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
        path = path or self.out / "checkpoint.pt"
        if self.rank != 0:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        state = self.state()
        check_plain(state)  # so that it loads with weights_only=True
        torch.save(state, tmp)
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written checkpoint
        return path

    def resume(self, path: Path | None = None) -> None:
        path = path or self.out / "checkpoint.pt"
        ckpt = load_checkpoint(path, map_location=self.device)
        missing = [k for k in RESUME_KEYS if k not in ckpt]
        if missing:
            raise CheckpointError(f"{path} cannot be resumed: no {', '.join(missing)}")
        if ckpt["model_spec"] != self.model_spec:
            raise CheckpointError(
                f"{path} holds model {ckpt['model_spec']}; the config asks for {self.model_spec}"
            )
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
        path = self.out / "metrics.jsonl"
        if self.rank != 0 or not path.exists():
            return
        keep = [ln for ln in path.read_text().splitlines() if json.loads(ln)["step"] <= self.step]
        path.write_text("".join(ln + "\n" for ln in keep))

    def _metric(self, record: dict) -> None:
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    # -- training --

    def _batches(self):
        """Batches from the current (epoch, position) on, forever; resumable exactly."""
        dcfg = self.cfg["data"]
        while True:
            self.sampler.set_epoch(self.epoch)
            self.train_set.set_epoch(self.epoch)
            batches = list(self.sampler)[self.batch_in_epoch :]
            loader = torch.utils.data.DataLoader(
                self.train_set,
                batch_sampler=batches,
                num_workers=int(dcfg["num_workers"]),
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
        tcfg = self.cfg["train"]
        log_every, val_every = int(tcfg["log_every"]), int(tcfg["val_every"])
        ckpt_every = int(tcfg["checkpoint_every"])
        self.log(
            f"model {self.model_spec['name']}: {count_parameters(self.model):,} parameters; "
            f"{len(self.train_set)} training samples; {self.steps} steps on {self.device}"
            + (f" x {self.world} processes" if self.world > 1 else "")
        )
        t0 = time.perf_counter()
        batches = self._batches()
        last = {}
        while self.step < self.steps:
            if stop_after is not None and self.step >= stop_after:
                return last
            last = self.train_step(next(batches))
            if self.step % log_every == 0 or self.step == self.steps:
                rec = {
                    "step": self.step,
                    **last,
                    "lr": self.scheduler.get_last_lr()[0],
                    "time": round(time.perf_counter() - t0, 3),
                }
                self._metric(rec)
                self.log(
                    " ".join(
                        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in rec.items()
                    )
                )
            if (self.step % val_every == 0 or self.step == self.steps) and len(self.val_set):
                val = self.validate()
                self._metric({"step": self.step, **val})
                self.log(
                    f"step {self.step} val psnr {val['val_psnr']:.2f} dB "
                    f"(reference {val['baseline_psnr']:.2f} dB)"
                )
                last.update(val)
            if self.step % ckpt_every == 0 or self.step == self.steps:
                self.save()
        if self.rank == 0:
            self.save(self.out / "model.pt")
            from cfasim.train.plots import plot_run

            plot_run(self)
        return last

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
        limit = self.cfg["data"]["val_samples"]
        idx = range(n if limit is None else min(n, int(limit)))
        ps, ss = [], []
        for i in idx:
            item = self.val_set[i]
            pred = self.predict(_batch_of(item))
            target = item["target"][None].to(self.device)
            if pred.shape[-2:] != target.shape[-2:]:
                target = F.interpolate(target, size=pred.shape[-2:], mode="area")
            ps.append(float(psnr(pred, target).mean()))
            ss.append(float(ssim(pred, target)))
        return {
            "val_psnr": float(np.mean(ps)),
            "val_ssim": float(np.mean(ss)),
            "baseline_psnr": self.baseline_psnr(list(idx)),
        }

    def baseline_psnr(self, indices) -> float:
        """PSNR of tent demosaic + reference process on the same validation samples (cached);
        NaN for real captured pairs (no ISP parameters to render with)."""
        if getattr(self, "_baseline", None) is None:
            root = zarr.open_group(str(self.cfg["data"]["dataset"]), mode="r")
            attrs = root.attrs["cfasim"]
            if not has_isp_params(attrs["config"]):
                self._baseline = float("nan")
                return self._baseline
            g = root[self.cfg["data"]["val_split"]]
            values = []
            for i in indices:
                item = self.val_set[i]
                params = sample_params(g, i, attrs["config"])
                ref = render_reference(
                    item["raw"].numpy(),
                    self.adapter.pattern,
                    params,
                    *self.adapter.normalize,
                    scale=self.val_set.scale,
                )
                tgt = item["target"].permute(1, 2, 0).numpy().astype(np.float64)
                values.append(10 * np.log10(1 / max(np.mean((ref - tgt) ** 2), 1e-12)))
            self._baseline = float(np.mean(values))
        return self._baseline


def _batch_of(item: dict) -> dict:
    """A dataset item as a batch of one."""
    return {k: v[None] if torch.is_tensor(v) else v for k, v in item.items()}


def assistant_chain(cfg: dict) -> list[dict]:
    """Configs of a teacher-assistant chain (progressive reading B): each model in
    ``distill.assistants`` is trained by output distillation from the previous one (the first
    from ``distill.teacher``) into ``OUT/assistant-K``, then the student from the last."""
    import copy

    out = Path(cfg["train"]["out"])
    teacher = cfg["distill"]["teacher"]
    runs = []
    for k, spec in enumerate(cfg["distill"]["assistants"]):
        c = copy.deepcopy(cfg)
        c["model"] = {**c["model"], "name": spec["name"], "args": spec.get("args", {})}
        c["train"]["out"] = str(out / f"assistant-{k + 1}")
        c["distill"] = {**c["distill"], "mode": "output", "teacher": teacher, "stages": [],
                        "assistants": []}  # fmt: skip
        runs.append(c)
        teacher = str(Path(c["train"]["out"]) / "model.pt")
    final = copy.deepcopy(cfg)
    final["distill"] = {**final["distill"], "teacher": teacher, "assistants": []}
    return [*runs, final]


def train(cfg: dict, resume: bool = False, stop_after: int | None = None, log=print) -> Trainer:
    """Build a :class:`Trainer` from a config, optionally resume, and fit (running the
    teacher-assistant chain first when ``distill.assistants`` is set)."""
    if cfg["distill"]["assistants"]:
        *chain, cfg = assistant_chain(cfg)
        for c in chain:
            if resume and (Path(c["train"]["out"]) / "model.pt").exists():
                continue  # finished assistant
            log(f"teacher assistant -> {c['train']['out']}")
            train(c, resume=resume and (Path(c["train"]["out"]) / "checkpoint.pt").exists(),
                  log=log)  # fmt: skip
    trainer = Trainer(cfg, log=log)
    if resume:
        trainer.resume()
    trainer.fit(stop_after=stop_after)
    return trainer
