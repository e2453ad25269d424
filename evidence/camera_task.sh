#!/usr/bin/env bash
# The camera task against the random-camera (srgb) task: the same student (lwisp_compact, 300
# steps) and the classical pipelines rendered with each sample's true ISP, on Nona at moderate
# noise, once with one fixed camera (generate --camera) and once with a random camera per
# sample (Brooks et al.).
#   bash evidence/camera_task.sh [OUT] ; python evidence/summarize.py OUT --cells camera
set -euo pipefail
OUT=${1:-evidence-out}
SEEDS=${SEEDS:-0,1,2}
mkdir -p "$OUT"
for task in camera srgb; do
  cell="$OUT/nona-$task"
  mkdir -p "$cell"
  camera=()
  [ "$task" = camera ] && camera=(--camera sony-a7r)
  [ -f "$cell/train.zarr/zarr.json" ] || cfasim generate --pattern nona --count 160 --patch 96 \
    --splits 0.8,0.1,0.1 --noise shot=5e-4,read=1e-5 "${camera[@]}" --seed 0 \
    --out "$cell/train.zarr"
  [ -f "$cell/student/seeds.json" ] || cfasim train --config lwisp_nona_tiny \
    --dataset "$cell/train.zarr" --seeds "$SEEDS" --resume --set 'model.name="lwisp_compact"' \
    --set train.threads=2 --set data.val_samples=16 --out "$cell/student"
  models=()
  for s in ${SEEDS//,/ }; do models+=(--checkpoint "student-s$s=$cell/student/seed-$s/model.pt"); done
  [ -f "$cell/eval-train/evaluation.json" ] || cfasim evaluate "$cell/train.zarr" "${models[@]}" \
    --noise-bins 1 --crops 2 --crop-size 48 --out "$cell/eval-train" > /dev/null
done
