#!/usr/bin/env bash
# The bundled model's language models: per-language LMs for model $1, written into $1. The mixed
# lm.json.gz and lm.fr.json.gz are tuned on 400 dev lines (configs/splits); en and de take the mixed
# one's settings. One book per language is left out of every LM: benchmarks/make_synthetic_testset.py
# --text renders lines from it to measure the LMs on sentences they never saw.
#   bash scripts/build_bundled_lms.sh sparkhtr/pretrained/span_small_latin
set -e
M=$1
T=../shared/text; D=../shared/data
EN=$(ls $T/en/*.txt | grep -v Hamilton); FR=$(ls $T/fr/*.txt | grep -v Blondel); DE=$(ls $T/de/*.txt | grep -v DEU093_Christ)
REAL="$D/copiste_dun_jour_fr $D/cremma_mss19_fr $D/htromance_modern_fr $D/timeus_fr"
TUNE="--tune-on $D/copiste_dun_jour_fr --tune-on $D/cremma_mss19_fr --tune-on $D/htromance_modern_fr --tune-on $D/timeus_fr --tune 400"
B=".venv/bin/sparkhtr build-lm --model $M --straight-quotes --order 7 --beam-width 40 --split train --splits configs/splits"
$B $EN $FR $DE $REAL --min-count 5 --lexicon wordfreq:en:100000 --lexicon wordfreq:fr:300000 --lexicon wordfreq:de:100000 $TUNE --out $M/lm.json.gz
$B $FR $REAL --min-count 3 --lexicon wordfreq:fr:300000 $TUNE --out $M/lm.fr.json.gz
S=$(.venv/bin/python -c "
from sparkhtr.text.lm import CharNgramLM; d=CharNgramLM.load('$M/lm.json.gz').decoding
print(f\"--lm-weight {d['lm_weight']} --length-bonus {d['length_bonus']} --word-bonus {d['word_bonus']} --oov-penalty {d['oov_penalty']}\")")
echo "en/de settings from the mixed LM: $S"
$B $EN --min-count 3 --lexicon wordfreq:en:100000 $S --out $M/lm.en.json.gz
$B $DE --min-count 3 --lexicon wordfreq:de:100000 $S --out $M/lm.de.json.gz
