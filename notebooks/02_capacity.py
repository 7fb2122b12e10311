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
# # 2. Capacity under dropout

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0

# %% tags=["remove-input"]
from polycode_utils.display import provenance_box

provenance_box(profile=profile, data="none (theory and simulation)", model="none", embedded_default=profile != "paper",
               parameters=dict(seed=seed))

# %% [markdown]
# ```{admonition} In preparation
# :class: warning
# This chapter is not written yet; the page is here so that the book always builds with all six chapters.
# ```
#
# This chapter will treat dropout as an erasure channel, state the paper's capacity theorem,
# $(1-p)\,m\,(C_b + \log_2(1-2^{-C_b})) \le C \le (1-p)\,m\,C_b$, check it with the Blahut–Arimoto capacity of
# the exact dropout channel, and regenerate Fig. 2: capacity against depth for the three codes, closed forms with
# Monte-Carlo points on top.
