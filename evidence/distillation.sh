#!/usr/bin/env bash
# Distillation at equal total training compute (teacher training counted), paired seeds, Nona:
# per seed, one clean-image teacher (lwisp_compact_clean_teacher) and four students
# (lwisp_compact) on the same data:
#   hetero   ground truth + teacher output 0.5 + decoder features 0.5 (lwisp_nona_hetero)
#   output   ground truth + teacher output 0.5
#   feature  ground truth + decoder features 0.5
#   none     no teacher, trained for as many steps as the teacher + a distilled student cost
#            (FLOPs of OUT/*/metrics.jsonl: train_flops_per_step), the equal-compute control
#   none-short  no teacher, the distilled students' steps (the unequal comparison of old docs)
# Every student is scored on the test split with cfasim evaluate.
#   bash evidence/distillation.sh [OUT]      (resumable)  ; python evidence/distillation.py OUT
set -euo pipefail
OUT=${1:-distill-out}
SEEDS=${SEEDS:-0 1 2 3 4 5}
STEPS=${STEPS:-150}                  # each distilled student
TEACHER_STEPS=${TEACHER_STEPS:-150}
CROP=${CROP:-96}                     # Nona period 6 and the model's multiple 32
mkdir -p "$OUT"
[ -f "$OUT/nona.zarr/zarr.json" ] || cfasim generate --pattern nona --count 256 --clean \
  --seed 0 --out "$OUT/nona.zarr"
common=(--dataset "$OUT/nona.zarr" --set data.crop="$CROP" --set data.val_samples=26
        --set train.val_every=100000 --set train.threads=2)
student=(--config lwisp_nona_tiny --set 'model.name="lwisp_compact"' "${common[@]}")
features='features = [["dec2", "dec2"], ["dec1", "dec1"], ["dec0", "dec0"]]'
declare -A STAGES=(
  [hetero]="{ gt_weight = 1.0, output_weight = 0.5, feature_weight = 0.5, $features }"
  [output]="{ gt_weight = 1.0, output_weight = 0.5, feature_weight = 0.0, $features }"
  [feature]="{ gt_weight = 1.0, output_weight = 0.0, feature_weight = 0.5, $features }"
)
flops() { python -c "import json,sys; print(next(json.loads(l)['train_flops_per_step'] for l in \
open(sys.argv[1]) if 'train_flops_per_step' in l))" "$1/metrics.jsonl"; }
train() {  # OUT ARGS...: skipped when finished, resumed when killed half-way
  local out=$1 resume=(); shift
  [ -f "$out/model.pt" ] && return
  [ -f "$out/checkpoint.pt" ] && resume=(--resume)
  cfasim train "$@" "${resume[@]}" --out "$out" > "$out.log" 2>&1
}

for seed in $SEEDS; do
  run="$OUT/seed-$seed"
  mkdir -p "$run"
  train "$run/teacher" --config lwisp_clean_teacher_nona "${common[@]}" --seed "$seed" \
    --set 'model.name="lwisp_compact_clean_teacher"' --steps "$TEACHER_STEPS"
  for arm in hetero output feature; do
    train "$run/$arm" "${student[@]}" --seed "$seed" --steps "$STEPS" \
      --distill heterogeneous --teacher "$run/teacher/model.pt" \
      --set "distill.stages=[${STAGES[$arm]}]"
  done
  train "$run/none-short" "${student[@]}" --seed "$seed" --steps "$STEPS"
  # equal compute: teacher + hetero student FLOPs, in undistilled student steps (rounded up)
  budget=$(( $(flops "$run/teacher") * TEACHER_STEPS + $(flops "$run/hetero") * STEPS ))
  per_step=$(flops "$run/none-short")
  train "$run/none" "${student[@]}" --seed "$seed" --steps $(( (budget + per_step - 1) / per_step ))
  models=()
  for arm in none none-short hetero output feature; do
    models+=(--checkpoint "$arm=$run/$arm/model.pt")
  done
  [ -f "$run/eval/evaluation.json" ] || cfasim evaluate "$OUT/nona.zarr" "${models[@]}" \
    --baselines remosaic_ed_menon --noise-bins 1 --crops 2 --out "$run/eval" > "$run/eval.log" 2>&1
done
echo "done: python evidence/distillation.py $OUT"
