"""Published reference numbers: Xie & Virtanen, WASPAA 2019 (arXiv 1905.01926), top-1 %.

VGGish audio embeddings, Google News Word2Vec label embeddings, bilinear model with
Algorithm 1, all 2000 ESC-50 clips. These are the paper's numbers, shown beside ours.
"""

from __future__ import annotations

from zsaudio.datasets.esc50 import CATEGORIES

# Table 2: Setting 1, per category.
SETTING1 = dict(zip(CATEGORIES, [60.2, 83.0, 75.5, 88.5, 74.7], strict=True))

# Table 3: Setting 2, SETTING2[train][test].
_S2_ROWS = [
    [None, 21.0, 21.5, 16.7, 15.5],
    [14.2, None, 15.7, 14.2, 26.2],
    [16.2, 14.5, None, 17.7, 17.5],
    [15.0, 9.7, 11.2, None, 24.7],
    [14.0, 23.5, 14.7, 13.0, None],
]
SETTING2 = {
    train: {test: v for test, v in zip(CATEGORIES, row, strict=True) if v is not None}
    for train, row in zip(CATEGORIES, _S2_ROWS, strict=True)
}

# Table 4: per evaluation category, Setting 2 (mean over training categories), 3 and 4.
SETTING2_AVG = dict(zip(CATEGORIES, [14.9, 17.2, 15.8, 15.4, 21.0], strict=True))
SETTING3 = dict(zip(CATEGORIES, [22.2, 39.7, 22.0, 17.0, 29.2], strict=True))
SETTING4 = dict(zip(CATEGORIES, [51.2, 68.4, 56.3, 58.7, 73.8], strict=True))
MEANS = {"setting2": 16.9, "setting3": 26.0, "setting4": 61.7}
