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
# # 5. Random projections of a moving dot

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0

# %% tags=["remove-input"]
from polycode_utils.display import provenance_box

provenance_box(profile=profile, data="a dot moving once round a circle (32x32 frames)", model="the chapter-3 autoencoders", embedded_default=profile != "paper",
               parameters=dict(seed=seed))

# %% [markdown]
# ```{admonition} In preparation
# :class: warning
# This chapter is not written yet; the page is here so that the book always builds with all six chapters.
# ```
#
# This chapter will pass a moving-dot stimulus through the chapter-3 networks, draw 3-D random projections of
# each layer's activations coloured by time (Fig. 4b), and plot the mean action of 1000 projections against depth
# and against the chapter-4 exponent $\alpha$ (Fig. 4c–d).
