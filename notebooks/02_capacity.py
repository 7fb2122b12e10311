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
width = 12
max_depth = 20
bits_per_unit = 2
spread = 2
dropout_rates = [0.0, 0.2, 0.4, 0.6, 0.8]
n_trials = 20000

# %% tags=["remove-input"]
import numpy as np
from myst_nb import glue
from tqdm.auto import tqdm

from polycode_utils.book.page import glue_values, provenance_box, set_style
from polycode_utils.capacity import (CODES, best_redundancy, code_capacity, depth_readouts, lower_bound_tight_above,
                                     monte_carlo_agreement, simulate_code_survival, theorem_check,
                                     theorem_per_unit_table)
from polycode_utils.plots.theory import plot_capacity_vs_depth, plot_capacity_vs_width, plot_theorem_check

set_style()
provenance_box(profile=profile, data="none (theory and simulation)", model="none", embedded_default=profile != "paper",
               parameters=dict(seed=seed, width=width, max_depth=max_depth, bits_per_unit=bits_per_unit,
                               spread=spread, dropout_rates=dropout_rates, n_trials=n_trials))

# %% tags=["remove-cell"]
# Numbers that the prose quotes from the parameters: glued, never typed.
glue_values(dict(width=int(width), max_depth=int(max_depth), bits_per_unit=int(bits_per_unit), spread=int(spread),
                 n_trials=int(n_trials), full_capacity=float(width * bits_per_unit)))

# %% [markdown]
# A layer of a network passes a message to the next layer through its $m$ units. Treat each unit as one use of a
# channel that carries $C_b$ bits, say $2^{C_b}$ activation levels the next layer can tell apart. Dropout at rate
# $p$ sets each unit to 0, independently, with probability $p$. If the next layer knew which units had been
# dropped, every unit would be an **erasure channel**: the symbol arrives intact with probability $1-p$, or is
# visibly lost. An erasure channel carries $1-p$ times the bits of its symbol per use, so the layer carries at
# most $(1-p)\,m\,C_b$ bits. But the next layer does not know: a dropped unit reads 0, the same as a unit that
# *sent* 0. The paper's supplementary note bounds what this costs.
#
# ```{admonition} Theorem (the paper's supplementary note)
# :class: important
# A layer of $m$ independent units of capacity $C_b$ bits each, under dropout at rate $p$ (erasure to 0), has
# capacity
#
# $$ (1-p)\,m\,\bigl(C_b + \log_2(1 - 2^{-C_b})\bigr) \;\le\; C \;\le\; (1-p)\,m\,C_b . $$
# ```
#
# The argument in brief (our paraphrase). *Upper bound:* the dropout channel is the erasure channel followed by
# a relabelling of "erased" as 0, and processing cannot add information, so it carries at most the erasure
# channel's $(1-p)\,m\,C_b$. *Lower bound:* never send 0; use only the $2^{C_b}-1$ non-zero symbols, so that a 0
# *means* "dropped". Then the layer is an erasure channel on an alphabet of $2^{C_b}-1$ symbols, with capacity
# $(1-p)\,m\log_2(2^{C_b}-1)$, which is the left-hand side. The gap between the bounds, $\log_2(1-2^{-C_b})$ per
# surviving unit, is one bit for $C_b = 1$ and vanishes quickly as $C_b$ grows.
#
# ## The theorem, checked
#
# For a few units the exact channel is small enough to write down. `dropout_channel(n, b, p)` is the transition
# matrix $W[x, y] = P(y \mid x)$ of $n$ units of $b$ bits (a $2^{nb} \times 2^{nb}$ matrix, the Kronecker product of
# one unit's matrix $n$ times), and the Blahut–Arimoto algorithm computes its capacity to $10^{-9}$ bits. We also
# derived (ours) the exact capacity of one unit of $M = 2^b$ symbols: with $a = 1-p$,
# $C = \log_2\!\bigl(1 + (M-1)\,a\,p^{p/a}\bigr)$, which for $b = 1$ is the textbook Z-channel, as long as
# $p^{-1/a} \ge M-1$; beyond that dropout rate the best input never sends 0, and the capacity *equals* the
# theorem's lower bound $a\log_2(M-1)$. Units are independent, so $n$ units carry $n$ times as much.

# %%
theorem_units, theorem_bits = (1, 2, 3), (1, 2)  # small enough for the exact channel: at most 64 x 64
theorem = theorem_check(theorem_units, theorem_bits, dropout_rates)
assert theorem.within.all(), theorem[~theorem.within]  # the chapter does not build if the theorem fails

# %% tags=["hide-input"]
theorem_per_unit_table(theorem).map(lambda v: f"{v:.4f}")

# %% tags=["remove-cell"]
big_bits = 8  # a more realistic unit, for the sentence on the lower bound


def spoken(values: tuple) -> str:
    return ", ".join(map(str, values[:-1])) + f" and {values[-1]}" if len(values) > 1 else str(values[0])


glue_values(dict(theorem_units=spoken(theorem_units), theorem_bits=spoken(theorem_bits), n_checks=int(len(theorem)),
                 n_within=int(theorem.within.sum()),
                 ba_max_error=float((theorem.blahut_arimoto - theorem.exact).abs().max()),
                 p_tight_2=lower_bound_tight_above(2), big_bits=big_bits,
                 p_tight_big=lower_bound_tight_above(big_bits)))

# %% [markdown]
# All {glue:text}`n_within` of the {glue:text}`n_checks` Blahut–Arimoto capacities ({glue:text}`theorem_units`
# units of {glue:text}`theorem_bits` bits each, at every dropout rate of this run) lie between the theorem's
# bounds, and they match our exact formula to {glue:text}`ba_max_error:.1e` bits. The table shows the capacity per
# unit; it does not depend on the number of units, as it must not for independent units. The lower bound is not
# just a bound: for units of 2 bits it is the exact capacity for every dropout rate above
# {glue:text}`p_tight_2:.3f`, and for units of {glue:text}`big_bits` bits already above {glue:text}`p_tight_big:.4f`.

# %% tags=["hide-input"]
plot_theorem_check(theorem)

# %% [markdown]
# **The theorem, checked.** Capacity per unit of the exact dropout channel against the dropout rate, one panel per
# unit size $C_b$. Grey band: the paper's bounds. Blue line: the exact one-unit capacity we derive. Markers:
# Blahut–Arimoto capacities of the exact channel of {glue:text}`theorem_units` units, divided by the number of
# units (ours), drawn side by side at each dropout rate of this run (they coincide). For 1-bit units the lower
# bound is 0, a trivial bound; for 2-bit units the exact curve meets the lower bound at high dropout.
#
# ## Three codes through depth
#
# Fig. 2 of the paper asks what happens when dropout strikes again at every layer of a deep network, for the three
# codes of Fig. 1b. The sources do not state the formulas behind the figure; the following closed forms are **our
# reconstruction** from scratch formulas in the supplementary note, for $L$ layers of width $m$ with independent
# dropout in each:
#
# - **monosemantic** — one feature per unit. A feature lost is lost for good:
#   $C = m\,C_b\,(1-p)^L$.
# - **superposition** — each feature spread over $s$ units (here $s$ = {glue:text}`spread`), without redundancy;
#   it is readable only if all of its units survive: $C = m\,C_b\,(1-p)^{sL}$.
# - **polysemantic** — each feature repeated on $k$ units, and re-encoded to $k$ copies at every layer; it survives
#   a layer if any copy does. Only $\lfloor m/k \rfloor$ features fit, and the code takes the best $k$:
#   $C = \max_{k} \lfloor m/k \rfloor\,C_b\,(1 - p^k)^L$.
#
# The ceiling for every code is the **Shannon line** $(1-p)\,m\,C_b$, the capacity of one dropout layer (the
# theorem's upper bound): data processing forbids more at any depth $L \ge 1$, and a long erasure-correcting code,
# decoded and re-encoded in every layer, would approach it at any depth. We treat a dropped unit as a *flagged*
# erasure (the theorem's upper-bound channel); reserving the symbol 0 as the flag instead multiplies every curve by
# the same factor $1 + \log_2(1-2^{-C_b})/C_b$ (the lower bound) and changes nothing about depth.
#
# **Monte-Carlo check (ours, beyond the paper).** The closed forms are tested rather than trusted:
# `simulate_code_survival` sends {glue:text}`n_trials` independent trials through the layers, drawing a fresh
# dropout mask at each, and tracks which features each code can still recover, re-encoding the polysemantic code
# after every layer. Since which features survive does not depend on the message, the code's end-to-end channel is
# an erasure channel, and the mutual information for uniform messages is exactly $C_b$ times the expected number of
# surviving features. The simulation estimates that mean, with its standard error over trials.

# %%
depths = np.arange(max_depth + 1)
curves, sims = {}, {}
for i, p in enumerate(tqdm(dropout_rates, desc="dropout rates")):
    for j, code in enumerate(CODES):
        curves[code, p] = code_capacity(code, width, depths, p, bits_per_unit, spread=spread)
        sims[code, p] = simulate_code_survival(code, width, max_depth, p, n_trials, seed=(seed, i, j),
                                               bits_per_unit=bits_per_unit, spread=spread)

# %% tags=["remove-cell"]
agreement = monte_carlo_agreement(list(sims.values()), [curves[key] for key in sims])
glue_values(vars(agreement))

# %% [markdown]
# Of the {glue:text}`mc_points` simulated points (every code, dropout rate and depth
# 0–{glue:text}`max_depth`), {glue:text}`mc_resolved` have a non-zero standard error, and
# {glue:text}`mc_within_3se` of those lie within 3 standard errors of the closed form; the largest deviation is
# {glue:text}`mc_max_abs_z:.2f` standard errors. These are not independent tests: every depth of a curve is
# measured on the same trials (a feature alive at one depth was alive at every shallower one), so one lucky stream
# shifts a run of neighbouring points together, and where only a handful of features survive the standard error
# is itself uncertain. Where the closed form expects at least {glue:text}`many_survivors` surviving features over
# all trials ({glue:text}`mc_many` points), simulation and formula agree to within
# {glue:text}`mc_many_max_rel_pct:.1f` %.
# Of the remaining points, {glue:text}`mc_exact` equal the closed form exactly (no dropout, or depth 0), and in
# {glue:text}`mc_unresolved` no feature survived in any trial, where the closed form expects at most
# {glue:text}`mc_unresolved_expected:.2g` survivors in all the trials together.

# %% tags=["hide-input"]
plot_capacity_vs_depth(curves, sims, dropout_rates, width, bits_per_unit)

# %% [markdown]
# **Fig. 2b–c, regenerated.** Capacity against depth for a layer of {glue:text}`width` units of
# {glue:text}`bits_per_unit` bits, at each dropout rate of this run (colour; by default the paper's grid).
# (b) Monosemantic (circles, solid) and superposition (stars, dashed) codes; (c) the polysemantic code with its
# best redundancy $k$ at each depth.
# Lines: our closed forms; markers with error bars (±1 standard error, mostly smaller than the markers): our
# Monte-Carlo simulation ({glue:text}`n_trials` trials); dotted: the Shannon line $(1-p)\,m\,C_b$, the paper's
# theorem's upper bound. The layout and the three codes are the paper's; the formulas and the simulation are
# ours. Log scale; points with no surviving feature in any trial are not drawn.

# %% tags=["remove-cell"]
p_glue = 0.2  # the dropout rate at which the prose quotes depths (any rate works: these are closed forms)
glue("p_glue", p_glue, display=False)
for code, readout in depth_readouts(width, p_glue, bits_per_unit, spread, max_depth).items():
    glue(f"half_depth_{code[:4]}", readout.half_depth, display=False)
    glue(f"half_shannon_depth_{code[:4]}", readout.half_shannon_depth, display=False)
    glue(f"frac_shannon_{code[:4]}", readout.pct_of_shannon, display=False)
glue("best_k_max_depth", int(best_redundancy(width, max_depth, p_glue)), display=False)

# %% [markdown]
# At a dropout rate of {glue:text}`p_glue`, the monosemantic code loses half of its
# {glue:text}`full_capacity:g` bits after {glue:text}`half_depth_mono:.2f` layers and the superposition code
# after {glue:text}`half_depth_supe:.2f` (depths from the closed forms, read as continuous). The polysemantic code
# loses half after {glue:text}`half_depth_poly:.2f` layers, exactly when the monosemantic one does, and necessarily:
# any redundancy $k \ge 2$ starts at most at half the full capacity, so until that point the best code is
# $k = 1$. Redundancy is a bad deal in a shallow network and a good one in a deep network. Measured against the
# Shannon line instead, the codes fall to half of it at depths {glue:text}`half_shannon_depth_mono:.2f`
# (monosemantic), {glue:text}`half_shannon_depth_supe:.2f` (superposition) and
# {glue:text}`half_shannon_depth_poly:.2f` (polysemantic), and at depth {glue:text}`max_depth` they keep
# {glue:text}`frac_shannon_mono:.2g` %, {glue:text}`frac_shannon_supe:.2g` % and
# {glue:text}`frac_shannon_poly:.2g` % of it, the polysemantic code with redundancy $k$ =
# {glue:text}`best_k_max_depth`.
#
# The reason is in the exponents: a monosemantic or superposed feature survives $L$ layers with a probability that
# falls geometrically, $(1-p)^L$ or $(1-p)^{sL}$, while a $k$-fold feature that is re-encoded in every layer
# survives with $(1-p^k)^L \approx e^{-L p^k}$, which stays near 1 as long as $k \gtrsim \log L / \log(1/p)$. The
# best redundancy grows only logarithmically with depth, so a polysemantic code gives up a factor of order
# $\log L$ of capacity where the others give up a factor exponential in $L$, until $k$ runs out of units. That
# last point is about width.
#
# ## Capacity against width
#
# A monosemantic or superposed code has the same capacity per unit at any width. The polysemantic code does not:
# it can only use a redundancy $k$ up to the width, and wastes the $m \bmod k$ units left over.

# %%
widths = np.arange(1, width + 1)
k_best = {p: np.array([best_redundancy(w, max_depth, p) for w in widths]) for p in dropout_rates}
width_sims = {}
for i, p in enumerate(tqdm(dropout_rates, desc="dropout rates")):
    for w, k in zip(widths, k_best[p]):
        width_sims[p, w] = simulate_code_survival("polysemantic", int(w), max_depth, p, n_trials,
                                                  seed=(seed, 100 + i, int(w)), bits_per_unit=bits_per_unit,
                                                  redundancy=int(k))

# %% tags=["hide-input"]
plot_capacity_vs_width(widths, k_best, width_sims, bits_per_unit)

# %% [markdown]
# **Capacity against width (ours; the paper's Fig. 2 shows depth only).** (d) Capacity per unit of the
# polysemantic code at depth {glue:text}`max_depth` against the layer width, for each dropout rate (colour): our
# closed form (solid line) and Monte-Carlo (squares, ±1 standard error) with the best redundancy for that width;
# the monosemantic code's capacity per unit (dash-dotted; superposition is lower still) and the Shannon line per
# unit, $(1-p)\,C_b$ (dotted). (e) The best redundancy $k$: it grows with width until it reaches the value the depth
# calls for, and drops back where $\lfloor m/k \rfloor$ leaves too many units unused.
#
# ```{admonition} What is the paper's and what is ours
# :class: note
# **The paper's:** the view of dropout as an erasure channel, the capacity theorem and its bounds, the three codes,
# the dropout grid $p \in \{0, 0.2, 0.4, 0.6, 0.8\}$ and the layout of Fig. 2b–c.
# **Ours:** the closed forms of the three codes through depth (the sources do not state them; the
# spread $s$ of the superposition code and the width are our choices, parameters of this chapter), the exact
# one-unit capacity, the Blahut–Arimoto check, the Monte-Carlo simulation, the width panel and every glued number.
# ```
