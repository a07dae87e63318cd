# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Word statistics
#
# A jupytext *percent* script: each `# %%` starts a cell. `jupyter flows inspect
# word_stats.py` turns it into a flow exactly as it would the notebook it stands for.

# %% tags=["parameters"]
text = "the quick brown fox jumps over the lazy dog the end"  # the text to study
top_n = 3  # how many words to list
min_length: int = 3  # shorter words are left out

# %% Imports
import re  # noqa: E402 (a notebook: imports after the parameters cell)
from collections import Counter  # noqa: E402

# %% Split into words
words = [w for w in re.findall(r"[a-z']+", text.lower()) if len(w) >= min_length]

# %% Count words
counts = Counter(words)
most_common = counts.most_common(top_n)

# %% Measure lengths
lengths = [len(w) for w in words]
mean_length = sum(lengths) / len(lengths) if lengths else 0.0

# %% Report
print(f"{len(words)} words, mean length {mean_length:.2f}")
for word, count in most_common:
    print(f"{word:>10} {count}")
