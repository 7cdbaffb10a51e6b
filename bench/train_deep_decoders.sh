#!/bin/bash
# issue 25 (hidden 512: the zoo stays under 80 MB): every alexnet64 decoder trained to a flat learning curve on
# cached codes (decoder-only epochs; conv1-conv4's codes are 3-7 GB in RAM for Tiny-ImageNet and its mirrors)
# usage: bench/train_deep_decoders.sh WEIGHTS [LAYER...]  (WEIGHTS: default | a .safetensors file; each run resumes if interrupted)
cd "$(dirname "$0")/.." && source .venv/bin/activate
W=${1:-default}; shift
declare -A TRANSFORM=([prob]=centred-log) WIDTH=([conv1]=16)
for L in ${@:-fc8 prob conv5 fc6 fc7 conv3 conv4 conv2 conv1}; do
  out=runs/deep/$L
  [ -f $out/summary.json ] && continue
  preimage train-decoder --rep alexnet64:$L --data ../shared/data/tiny-imagenet-200 --epochs 10 --patience 3 \
    --crop-pad 0 --width ${WIDTH[$L]:-32} --hidden 512 --cache-dir /tmp/tiny_cache --weights $W \
    --code-transform ${TRANSFORM[$L]:-identity} --seed 0 -o $out $([ -f $out/checkpoint.pt ] && echo --resume) > $out.log 2>&1
done
echo ALLDONE
