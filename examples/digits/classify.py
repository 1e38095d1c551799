"""Label generated samples by the digits classifier: id<TAB>argmax(logits) for each row of a features file.

An unconditional model's samples have no class; the classifier's prediction gives them one, so that
`gentools fid --per-class` can compare each digit of the model with the same digit of the test set.

Usage: python classify.py FEATURES.h5 > labels.tsv
"""

from __future__ import annotations

import sys

import gentools

with gentools.load(sys.argv[1]) as features:
    for row_id, label in zip(features.ids, features.array("logits").argmax(axis=1)):
        print(f"{row_id}\t{label}")
