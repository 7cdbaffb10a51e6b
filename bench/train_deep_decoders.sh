#!/bin/bash
# issue 25 (hidden 512: the zoo stays under 80 MB): the deep alexnet64 decoders trained to a flat learning curve on cached codes (decoder-only epochs)
# usage: bench/train_deep_decoders.sh WEIGHTS   (default | a .safetensors file); each run resumes if interrupted
cd /work/main && source .venv/bin/activate
W=${1:-default}
for spec in "fc8 identity" "prob centred-log" "conv5 identity" "fc6 identity" "fc7 identity"; do
  set -- $spec
  out=runs/deep/$1
  [ -f $out/summary.json ] && continue
  preimage train-decoder --rep alexnet64:$1 --data ../shared/data/tiny-imagenet-200 --epochs 10 --patience 3 \
    --crop-pad 0 --hidden 512 --cache-dir /tmp/tiny_cache --weights $W --code-transform $2 --seed 0 -o $out \
    $([ -f $out/checkpoint.pt ] && echo --resume) > $out.log 2>&1
done
echo ALLDONE
