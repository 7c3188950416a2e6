#!/usr/bin/env bash
# Reproduces the Motion10 model from nothing: render the sets, export them through the pipeline's
# own decode stage, train with the JAX reference, then evaluate through the whole pipeline.
#
#   scripts/train-motion10.sh [WORK_DIR]       (default: scratch/motion10; git-ignored)
#
# Environment knobs (defaults in brackets): TRAIN_PER_CLASS [200], TRAIN2_PER_CLASS [100] and
# TRAIN3_PER_CLASS [150] (three training seeds), VAL_PER_CLASS [20], TEST_PER_CLASS [50], MINUTES [57] cap on training
# time, TRAIN_ARGS [the bundled model's recipe] arguments for training/train.py (architecture,
# learning rate, steps), OUT [WORK_DIR/model.safetensors], OUT96 [WORK_DIR/model-96.safetensors]
# where the new model fine-tuned at 16x96x96 goes (the default pipeline's model, pipelines/hires.yaml
# alone; 32 minutes more; OUT96= , set empty, skips it), OUTSTART [WORK_DIR/model-start.safetensors]
# where the first stage of pipelines/start.yaml goes (from OUT96; 5 minutes more; OUTSTART= skips it).
# Seeds: train 1000, 1001 and 1002, validation 2000, test 3000 — the test seed is never used for training.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
work="${1:-scratch/motion10}"
out="${OUT:-$work/model.safetensors}"
out96="${OUT96-$work/model-96.safetensors}"
outstart="${OUTSTART-$work/model-start.safetensors}"
mkdir -p "$work"

scripts/setup.sh --python
swift build -c release --product tokenreel
bin=.build/release/tokenreel

render() {   # name per-class seed
    [ -f "$work/$1/labels.jsonl" ] || "$bin" synth motion10 --out "$work/$1" --per-class "$2" --seed "$3" --jobs 2 --quiet
}
render train "${TRAIN_PER_CLASS:-200}" 1000
render train2 "${TRAIN2_PER_CLASS:-100}" 1001
render train3 "${TRAIN3_PER_CLASS:-150}" 1002
render val "${VAL_PER_CLASS:-20}" 2000
render test "${TEST_PER_CLASS:-50}" 3000

for set in train train2 train3 val; do
    [ -f "$work/$set.npz" ] || "$bin" export "$work/$set" --pipeline training/motion10-export.yaml --out "$work/$set.npz" --log-level warning
done

# The bundled model's recipe (README, "The bundled model"): tubelet 2x16x16, D=96, 6 layers, 3 heads,
# MLP 384, TokenLearner v1.1 with 8 tokens per slice before layer 2; half the embedding channels
# start as temporal differences (gain 32), without which training stays at chance. SuperViT: each
# batch runs at one of six operating points (16x64x64, 8x48x48, 8x32x32, each with all tokens or
# half kept before layer 1), so the same weights serve the cascade's cheap stage and token keeping.
# Half of the clips are shaken (every frame moved by up to 0.7% of the short side), so a hand-held
# static shot stays `static`. The first two blocks start wired to compute the clip's mean flow,
# divergence and curl (derivative filters on 5x5 sub-squares of every patch, kept fixed during the
# run: train.py flow_init), without which the direction of rotation stays at chance.
recipe="--tubelet 2,16,16 --hidden 96 --layers 6 --heads 3 --mlp 384 --tokens 8 --tl-loc 2
        --motion-init 0.5 --motion-gain 32 --flow-init 5 --lr 1e-3 --warmup 0.05 --batch 32 --steps 8000 --seed 0
        --sizes 8x32x32 8x48x48 --keep-rates 1 0.5 --keep-layers 1 --shake 0.5"
# shellcheck disable=SC2086
.venv/bin/python training/train.py --train "$work/train.npz" "$work/train2.npz" "$work/train3.npz" \
    --val "$work/val.npz" --out "$out" --minutes "${MINUTES:-57}" ${TRAIN_ARGS:-$recipe}

# Evaluate the new weights through the whole pipeline (files in, JSON out) on the held-out seed,
# in order and with every clip's frames shuffled (the temporal control).
sed "s|^model: .*|model: $(realpath "$out")|" training/motion10-export.yaml > "$work/eval.yaml"
"$bin" eval "$work/test" -o "$work/eval" --pipeline "$work/eval.yaml" --progress never
"$bin" eval "$work/test" -o "$work/eval-shuffled" --pipeline "$work/eval.yaml" --shuffle-frames --progress never

# The 96x96 model the default pipeline runs (README, "The default: a cascade on the 96x96 model"):
# the same sets exported at 16x96x96, 1,600 steps from the model above (its position embedding
# resampled by --init), with the bundled recipe's architecture and SuperViT points at the old sizes.
if [ -n "$out96" ]; then
    for set in train train2 train3 val; do
        [ -f "$work/$set-96.npz" ] || "$bin" export "$work/$set" --pipeline training/motion10-export-96.yaml --out "$work/$set-96.npz" --log-level warning
    done
    # shellcheck disable=SC2086
    .venv/bin/python training/train.py --train "$work/train-96.npz" "$work/train2-96.npz" "$work/train3-96.npz" \
        --val "$work/val-96.npz" --out "$out96" --init "$out" \
        --tubelet 2,16,16 --hidden 96 --layers 6 --heads 3 --mlp 384 --tokens 8 --tl-loc 2 --motion-init 0.5 \
        --motion-gain 32 --flow-init 5 --lr 3e-4 --warmup 0.05 --batch 32 --steps 1600 --seed 0 \
        --sizes 16x64x64 8x48x48 --keep-rates 1 0.5 --keep-layers 1 --shake 0.5
    sed "s|^model: .*|model: $(realpath "$out96")|" training/motion10-export-96.yaml > "$work/eval96.yaml"
    "$bin" eval "$work/test" -o "$work/eval96" --pipeline "$work/eval96.yaml" --progress never

    # The first stage of pipelines/start.yaml: the 96x96 model fine-tuned on the first 6 of each
    # exported clip's 16 frames at 6x48x48 (what a stage with first_frames: 6 sees), 2,000 steps.
    if [ -n "$outstart" ]; then
        # shellcheck disable=SC2086
        .venv/bin/python training/train.py --train "$work/train-96.npz" "$work/train2-96.npz" "$work/train3-96.npz" \
            --val "$work/val-96.npz" --out "$outstart" --init "$out96" --first-frames 6 --geometry 6x48x48 \
            --tubelet 2,16,16 --hidden 96 --layers 6 --heads 3 --mlp 384 --tokens 8 --tl-loc 2 --motion-init 0.5 \
            --motion-gain 32 --flow-init 5 --lr 3e-4 --warmup 0.05 --batch 32 --steps 2000 --seed 0 --shake 0.5
    fi
fi
