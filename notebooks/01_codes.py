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
# # 1. Codes: monosemantic, polysemantic and superposition

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0

# %% tags=["remove-input"]
from polycode_utils.display import provenance_box

provenance_box(profile=profile, data="none (theory only)", model="the toy model of superposition (Elhage et al. 2022)", embedded_default=profile != "paper",
               parameters=dict(seed=seed))

# %% [markdown]
# ```{admonition} In preparation
# :class: warning
# This chapter is not written yet; the page is here so that the book always builds with all six chapters.
# ```
#
# This chapter will introduce the coding-theory view of a layer: features as messages, neurons as channel symbols,
# and the three codes of the paper's Fig. 1b (monosemantic, polysemantic, superposition) drawn from their
# encoding matrices. It will regenerate Fig. 1c live: the dimensions per feature $D^*$ of toy models of
# superposition trained for twenty sparsities, against the optimal-encoding prediction
# $D_\mathrm{opt}(S) = (1-S) + h_b(S)/H_\mathrm{elem}$ of the paper's supplementary note.
