#!/usr/bin/env bash
# The linear task on every pattern at three noise levels: a student (lwisp_compact, 930 k,
# conditioned on the white balance like the classical pipelines) against every classical
# pipeline, on dead-leaves test splits and on held-out natural photos (scikit-image's).
#   bash evidence/linear_task.sh [OUT]          (resumable: finished steps are skipped)
# Then: python evidence/summarize.py OUT
set -euo pipefail
OUT=${1:-evidence-out}
STEPS=${STEPS:-300}
SEEDS=${SEEDS:-0}               # seeds of every cell; QXQ_SEEDS for QxQ at moderate noise
QXQ_SEEDS=${QXQ_SEEDS:-0,1,2}
PATTERNS=${PATTERNS:-bayer quad nona qxq}
LEVELS=${LEVELS:-none moderate high}
mkdir -p "$OUT"
declare -A NOISE=([none]="none" [moderate]="shot=5e-4,read=1e-5" [high]="shot=1e-2,read=1e-4")

if [ ! -d "$OUT/photos" ]; then  # held out: never used for training
  python - "$OUT/photos" <<'PY'
import sys, pathlib
import imageio.v3 as iio
import skimage.data as d
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True)
for name in ("astronaut", "chelsea", "coffee", "rocket"):
    iio.imwrite(out / f"{name}.png", getattr(d, name)())
iio.imwrite(out / "motorcycle.png", d.stereo_motorcycle()[0])
PY
fi

for pattern in $PATTERNS; do
  for level in $LEVELS; do
    cell="$OUT/$pattern-$level"
    mkdir -p "$cell"
    [ -f "$cell/train.zarr/zarr.json" ] || cfasim generate --pattern "$pattern" --count 160 \
      --patch 96 --splits 0.8,0.1,0.1 --noise "${NOISE[$level]}" --clean --seed 0 \
      --out "$cell/train.zarr"
    [ -f "$cell/photos.zarr/zarr.json" ] || cfasim generate --pattern "$pattern" \
      --source "$OUT/photos" --count 20 --patch 96 --splits 0,0,1 --noise "${NOISE[$level]}" \
      --clean --seed 1 --out "$cell/photos.zarr"
    seeds=$SEEDS
    [ "$pattern-$level" = "qxq-moderate" ] && seeds=$QXQ_SEEDS
    [ -f "$cell/student/seeds.json" ] || cfasim train --config lwisp_nona_tiny \
      --dataset "$cell/train.zarr" --steps "$STEPS" --seeds "$seeds" --resume \
      --set 'model.name="lwisp_compact"' --set 'data.task="linear"' \
      --set 'model.condition="wb"' --set train.threads=2 \
      --set data.val_samples=16 --out "$cell/student"
    models=()
    for s in ${seeds//,/ }; do models+=(--checkpoint "student-s$s=$cell/student/seed-$s/model.pt"); done
    for set in train photos; do
      [ -f "$cell/eval-$set/evaluation.json" ] || cfasim evaluate "$cell/$set.zarr" \
        --task linear "${models[@]}" --noise-bins 1 --crops 2 --crop-size 48 \
        --out "$cell/eval-$set" > /dev/null
    done
  done
done
echo "done: python evidence/summarize.py $OUT"
