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

# %% tags=["remove-cell"]
import numpy as np
import pandas as pd
from myst_nb import glue
from tqdm.auto import tqdm

from polycode_utils.book.page import declared_parameters, glue_values, provenance_box, set_style
from polycode_utils.theory.capacity import (CODES, best_redundancy, code_capacity, depth_readouts,
                                            erasure_code_capacity, expected_projected_action, lower_bound_tight_above,
                                            power_law_entropy, power_law_spectrum, theorem3_lower_bounds, theorem_check,
                                            theorem_per_unit_table)
from polycode_utils.theory.decoding import monte_carlo_agreement, simulate_code_survival, simulate_joint_decoding
from polycode_utils.theory.codes import (code_spectrum, monosemantic_code, plugin_entropy, polysemantic_code,
                                  quantised_sparse_samples, repetition_code, sparse_feature_entropy,
                                  superposition_code)
from polycode_utils.plots.theory import (plot_capacity_vs_depth, plot_capacity_vs_width, plot_code_spectra,
                                         plot_joint_decoding, plot_theorem_check)
from polycode_utils.instruments.projections import action, random_projections
from polycode_utils.reports.ch02_capacity import fig2_claims, theorem3_claim

# %% tags=["remove-input"]
set_style()
provenance_box(profile=profile, data="none (theory and simulation)", model="none", embedded_default=profile != "paper",
               parameters=declared_parameters("02_capacity", globals()))

# %% tags=["remove-cell"]
# Numbers that the prose quotes from the parameters: glued, never typed.
glue_values(dict(width=int(width), max_depth=int(max_depth), bits_per_unit=int(bits_per_unit), spread=int(spread),
                 n_trials=int(n_trials), full_capacity=float(width * bits_per_unit),
                 n_poly=int(width - spread + 1)))
thm3 = theorem3_lower_bounds(1, 2, 0.0)
glue_values(dict(thm3_bits=2, thm3_statement=float(thm3.lower), thm3_proof=float(thm3.upper)))

# %% [markdown]
# A layer of a network passes a message to the next layer through its $m$ units. Treat each unit as one use of a
# channel that carries $C_b$ bits, say $2^{C_b}$ activation levels the next layer can tell apart. Dropout at rate
# $p$ sets each unit to 0, independently, with probability $p$. If the next layer knew which units had been
# dropped, every unit would be an **erasure channel**: the symbol arrives intact with probability $1-p$, or is
# visibly lost. An erasure channel carries $1-p$ times the bits of its symbol per use, so the layer carries at
# most $(1-p)\,m\,C_b$ bits. But the next layer does not know: a dropped unit reads 0, the same as a unit that
# *sent* 0. The paper's supplementary note bounds what this costs.
#
# ````{prf:theorem} Dropout capacity — the note's Theorem 3, in its proof's form
# :label: thm-dropout-capacity
# A layer of $m$ independent units of capacity $C_b$ bits each, under dropout at rate $p$ (erasure to 0), has
# capacity
#
# $$ (1-p)\,m\,\bigl(C_b + \log_2(1 - 2^{-C_b})\bigr) \;\le\; C \;\le\; (1-p)\,m\,C_b . $$
# ````
#
# **Two forms of the lower bound.** The note *states* the lower bound multiplicatively, $(1-p)\,m\,C_b\,(1-\epsilon)$
# with $\epsilon = -\log(1 - 2^{-C_b})$ (we read the logarithm as base 2, as in the proof); its *proof* proves the
# additive form above, which is the one this book uses everywhere. The two agree for $C_b = 1$ (both are 0) and
# differ above: for one unit of {glue:text}`thm3_bits` bits without dropout the proof gives
# {glue:text}`thm3_proof:.3f` bits and the statement {glue:text}`thm3_statement:.3f` (the statement's is the weaker
# bound, so it is true too, but it is not what the proof shows). The book's errata page lists this.
#
# ```{prf:proof}
# Our paraphrase of the note's argument. *Upper bound:* the dropout channel is the erasure channel followed by
# a relabelling of "erased" as 0, and processing cannot add information, so it carries at most the erasure
# channel's $(1-p)\,m\,C_b$. *Lower bound:* never send 0; use only the $2^{C_b}-1$ non-zero symbols, so that a 0
# *means* "dropped". Then the layer is an erasure channel on an alphabet of $2^{C_b}-1$ symbols, with capacity
# $(1-p)\,m\log_2(2^{C_b}-1)$, which is the left-hand side. The gap between the bounds, $\log_2(1-2^{-C_b})$ per
# surviving unit, is one bit for $C_b = 1$ and vanishes quickly as $C_b$ grows.
# ```
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
glue_values(theorem3_claim(theorem))

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
# Fig. 2 of the paper asks what happens when dropout strikes again at every layer of a deep network, for the codes
# of Fig. 1b. The sources do not state the formulas behind the figure; the following closed forms are **our
# reconstruction** from scratch formulas in the supplementary note, for $L$ layers of width $m$ with independent
# dropout in each. The codes are chapter 1's, built by the same functions, and named as chapter 1 names them:
#
# - **monosemantic** — one feature per unit. A feature lost is lost for good:
#   $C = m\,C_b\,(1-p)^L$.
# - **polysemantic** — chapter 1's overlapping code: feature $j$ on units $j, \dots, j+s-1$ (here
#   $s$ = {glue:text}`spread`), so neighbouring features share units and {glue:text}`n_poly` features fit in $m$
#   units. Read by the **per-feature rule** (the paper's curve), which counts a feature whenever every unit of it
#   survives, a feature survives a layer with probability $(1-p)^s$: $C = (m-s+1)\,C_b\,(1-p)^{sL}$. This is an
#   idealised count, not the capacity of any decoder: no decoder can read a feature from its own mixed units
#   alone, and one layer deep the rule counts more than the joint decoder recovers (below); through depth it
#   counts far less.
# - **repetition** — each feature repeated on $k$ units of its own, and re-encoded to $k$ copies at every layer; it
#   survives a layer if any copy does. Every unit still carries one feature: this is a **redundant monosemantic**
#   code, not a polysemantic one. Only $\lfloor m/k \rfloor$ features fit, and the code takes the best $k$:
#   $C = \max_{k} \lfloor m/k \rfloor\,C_b\,(1 - p^k)^L$.
#
# (Earlier versions of this book called the repetition code "polysemantic" and the overlapping code
# "superposition", contradicting chapter 1; chapter 1's superposition code, with more features than units, is
# not decodable from its units alone without sparsity and has no capacity curve here.)
#
# The ceiling for every code is the **Shannon line** $(1-p)\,m\,C_b$, the capacity of one dropout layer (the
# theorem's upper bound): data processing forbids more at any depth $L \ge 1$, and a long erasure-correcting code,
# decoded and re-encoded in every layer, would approach it at any depth. We treat a dropped unit as a *flagged*
# erasure (the theorem's upper-bound channel); reserving the symbol 0 as the flag instead multiplies every curve by
# the same factor $1 + \log_2(1-2^{-C_b})/C_b$ (the lower bound) and changes nothing about depth.
#
# **Monte-Carlo check (ours, beyond the paper).** The closed forms are tested rather than trusted:
# `simulate_code_survival` sends {glue:text}`n_trials` independent trials through the layers, drawing a fresh
# dropout mask at each, and tracks which features each code can still recover, re-encoding the repetition code
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
# **The paper's Fig. 2b–c, regenerated.** Capacity against depth for a layer of {glue:text}`width` units of
# {glue:text}`bits_per_unit` bits, at each dropout rate of this run (colour; by default the paper's grid).
# (b) Monosemantic (circles, solid) and polysemantic codes, the latter read by the per-feature rule (stars,
# dashed); (c) the repetition code with its best redundancy $k$ at each depth.
# Lines: our closed forms; markers with error bars (±1 standard error, mostly smaller than the markers): our
# Monte-Carlo simulation ({glue:text}`n_trials` trials); dotted: the Shannon line $(1-p)\,m\,C_b$, the paper's
# theorem's upper bound. The layout and the codes are the paper's; the formulas, the names' consistency with
# chapter 1 and the simulation are ours. This simulation applies the same survival rule as the closed forms, so it
# checks our algebra, not the model: the joint decoder below is the check of the model. Log scale; points with no
# surviving feature in any trial are not drawn.

# %% tags=["remove-cell"]
# the dropout rate at which the prose quotes depths and the joint decoder: the paper's 0.2, else the run's lowest
p_glue = 0.2 if 0.2 in dropout_rates else min(p for p in dropout_rates if p > 0)
glue("p_glue", p_glue, display=False)
for code, readout in depth_readouts(width, p_glue, bits_per_unit, spread, max_depth).items():
    short = dict(monosemantic="mono", polysemantic="poly", repetition="rep")[code]
    glue(f"half_depth_{short}", readout.half_depth, display=False)
    glue(f"half_shannon_depth_{short}", readout.half_shannon_depth, display=False)
    glue(f"frac_shannon_{short}", readout.pct_of_shannon, display=False)
glue("best_k_max_depth", int(best_redundancy(width, max_depth, p_glue)), display=False)

# %% tags=["remove-cell"]
noisy = [p for p in dropout_rates if p > 0]
deep = {code: [float(code_capacity(code, width, max_depth, p, bits_per_unit)) for p in noisy]
        for code in ("monosemantic", "repetition")}

# %% [markdown]
# At a dropout rate of {glue:text}`p_glue`, the monosemantic code loses half of its
# {glue:text}`full_capacity:g` bits after {glue:text}`half_depth_mono:.2f` layers and the polysemantic code, read
# feature by feature, after {glue:text}`half_depth_poly:.2f` (depths from the closed forms, read as continuous). The
# repetition code loses half after {glue:text}`half_depth_rep:.2f` layers, exactly when the monosemantic one does,
# and necessarily:
# any redundancy $k \ge 2$ starts at most at half the full capacity, so until that point the best code is
# $k = 1$. Redundancy is a bad deal in a shallow network and a good one in a deep network. Measured against the
# Shannon line instead, the codes fall to half of it at depths {glue:text}`half_shannon_depth_mono:.2f`
# (monosemantic), {glue:text}`half_shannon_depth_poly:.2f` (polysemantic, per-feature rule) and
# {glue:text}`half_shannon_depth_rep:.2f` (repetition), and at depth {glue:text}`max_depth` they keep
# {glue:text}`frac_shannon_mono:.2g` %, {glue:text}`frac_shannon_poly:.2g` % and
# {glue:text}`frac_shannon_rep:.2g` % of it, the repetition code with redundancy $k$ =
# {glue:text}`best_k_max_depth`.
#
# The reason is in the exponents, and the advantage comes from **redundancy**, not from polysemanticity: a
# monosemantic feature, or a polysemantic one counted by the per-feature rule, survives $L$ layers with a probability
# that falls geometrically, $(1-p)^L$ or $(1-p)^{sL}$, while a $k$-fold feature that is re-encoded in every layer
# survives with $(1-p^k)^L \approx e^{-L p^k}$, which stays near 1 as long as $k \gtrsim \log L / \log(1/p)$. The best
# redundancy grows only logarithmically with depth, so a repetition code gives up a factor of order $\log L$ of
# capacity where the others give up a factor exponential in $L$, until $k$ runs out of units. That last point is about
# width.
#
# ## Capacity against width
#
# A monosemantic code has the same capacity per unit at any width. The repetition code does not:
# it can only use a redundancy $k$ up to the width, and wastes the $m \bmod k$ units left over.

# %%
widths = np.arange(1, width + 1)
k_best = {p: np.array([best_redundancy(w, max_depth, p) for w in widths]) for p in dropout_rates}
width_sims = {}
for i, p in enumerate(tqdm(dropout_rates, desc="dropout rates")):
    for w, k in zip(widths, k_best[p]):
        width_sims[p, w] = simulate_code_survival("repetition", int(w), max_depth, p, n_trials,
                                                  seed=(seed, 100 + i, int(w)), bits_per_unit=bits_per_unit,
                                                  redundancy=int(k))

# %% tags=["hide-input"]
plot_capacity_vs_width(widths, k_best, width_sims, bits_per_unit)

# %% [markdown]
# **Capacity against width (ours; the paper's Fig. 2 shows depth only).** (d) Capacity per unit of the
# repetition code at depth {glue:text}`max_depth` against the layer width, for each dropout rate (colour): our
# closed form (solid line) and Monte-Carlo (squares, ±1 standard error) with the best redundancy for that width;
# the monosemantic code's capacity per unit (dash-dotted) and the Shannon line per
# unit, $(1-p)\,C_b$ (dotted). (e) The best redundancy $k$: it grows with width until it reaches the value the depth
# calls for, and drops back where $\lfloor m/k \rfloor$ leaves too many units unused.
#
#
# ## Decoding jointly: where the per-feature curve stops being the channel's
#
# Reading feature by feature throws information away: the units a feature shares with its neighbours also tell about
# the neighbours, and a decoder that reads all surviving units at once can use it. **Erasure decoding** (ours):
# the surviving units give the linear equations $y_S = E_S\,x$ in the features, so a set of features is recoverable
# exactly when the surviving rows of the code $E$ pin it down: all of them iff the surviving columns have full
# rank, and feature $j$ alone iff $e_j$ lies in the row space of $E_S$ (least squares over the reals recovers
# them; over a finite field of $2^{C_b}$ symbols, where mixing costs no extra bits, Gaussian elimination does the
# same). `simulate_joint_decoding` sends chapter 1's polysemantic code through the layers this way: each layer
# decodes what it can, features it cannot recover are lost, and the survivors are re-encoded with the same code.
# The same simulation runs a **random linear erasure code** (Gaussian entries: any $n$ of its $m$ units determine
# all $n$ features, a maximum-distance-separable code), with the $n$ that its closed form
# $\max_n n\,C_b\,P(\mathrm{Bin}(m, 1-p) \ge n)^L$ picks for this depth.

# %%
poly_code = polysemantic_code(width - spread + 1, spread)
n_mds = {p: 1 + int(np.argmax([erasure_code_capacity(width, max_depth, p, bits_per_unit, n_features=n)
                               for n in range(1, width + 1)])) for p in dropout_rates}
joint, per_feature = {}, {}
for i, p in enumerate(tqdm(dropout_rates, desc="dropout rates")):
    mds_code = np.random.default_rng((seed, 300 + i)).normal(size=(width, n_mds[p]))
    for name, code_matrix, stream in (("polysemantic", poly_code, 0), ("random linear", mds_code, 1)):
        joint[name, p] = simulate_joint_decoding(code_matrix, max_depth, p, n_trials, seed=(seed, 200 + i, stream),
                                                 bits_per_unit=bits_per_unit, name=name)
    per_feature[p] = curves["polysemantic", p]

# %% tags=["hide-input"]
wide = np.unique(np.geomspace(width, 4096, 40).astype(int))
plot_joint_decoding(per_feature, joint, wide, bits_per_unit)

# %% tags=["remove-cell"]
glue_values(dict(
    joint_poly=float(joint["polysemantic", p_glue].capacity[-1]), per_feature_poly=float(per_feature[p_glue][-1]),
    joint_poly_1=float(joint["polysemantic", p_glue].capacity[1]), per_feature_poly_1=float(per_feature[p_glue][1]),
    joint_mds=float(joint["random linear", p_glue].capacity[-1]), n_mds_glue=int(n_mds[p_glue]),
    mds_closed=float(erasure_code_capacity(width, max_depth, p_glue, bits_per_unit, n_features=n_mds[p_glue])),
    wide_width=int(wide[-1]), shannon_unit=float((1 - p_glue) * bits_per_unit),
    wide_pct=float(100 * erasure_code_capacity(int(wide[-1]), max_depth, p_glue, bits_per_unit)
                   / (wide[-1] * (1 - p_glue) * bits_per_unit))))

# %% tags=["remove-cell"]
poly = [joint["polysemantic", p] for p in noisy]
glue_values(fig2_claims(noisy, max_depth, width, deep["monosemantic"], deep["repetition"],
                        [float(per_feature[p][-1]) for p in noisy], [float(j.capacity[-1]) for j in poly],
                        [float(j.stderr[-1]) for j in poly]))

# %% [markdown]
# **Joint decoding (ours, beyond the paper).** (f) Capacity against depth at width {glue:text}`width`: the
# polysemantic code counted by the per-feature rule (dashed, the closed form of panel b) and by a joint erasure
# decoder (diamonds, simulated), and a random linear erasure code (triangles, simulated), each with ±1 standard
# error; dotted, the Shannon line. (g) The capacity per unit of a maximum-distance-separable erasure code at depth
# {glue:text}`max_depth` against width (closed form), approaching the Shannon line per unit $(1-p)\,C_b$.
#
# At dropout {glue:text}`p_glue`, one layer deep, the joint decoder recovers {glue:text}`joint_poly_1:.2f` bits of
# the polysemantic code against the per-feature rule's {glue:text}`per_feature_poly_1:.2f`. The two count
# differently. The per-feature rule reads a feature whenever all its own units survive, although a feature cannot
# be read from its own mixed units alone; the joint decoder recovers a feature exactly when a chain of surviving
# units from an end of the band pins it down, so one dropped unit costs nothing and two lose every feature between
# them. At depth {glue:text}`max_depth` the joint decoder keeps {glue:text}`joint_poly:.3g` bits and the
# per-feature rule {glue:text}`per_feature_poly:.3g`: features lost
# earlier are known to be absent, so they anchor the chains again, and the joint decoder falls only slowly. The
# random linear code with {glue:text}`n_mds_glue` features keeps {glue:text}`joint_mds:.3g` bits
# (its closed form: {glue:text}`mds_closed:.3g`). That is the note's claim "$C_\mathrm{dropout} \sim C(1-D)$" made
# concrete: a layer under dropout $D = p$ keeps at most the fraction $1-p$ of its capacity (the Shannon line), and
# a wide enough code, decoded and re-encoded in every layer, gets arbitrarily close to it at any fixed depth: at
# width {glue:text}`wide_width` it keeps {glue:text}`wide_pct:.1f` % of the line at depth {glue:text}`max_depth`.
#
# **Where the advantage comes from.** Every code that beats the monosemantic one through depth does so by
# **redundancy**: more units than independent features, so that the survivors determine what was dropped. The
# repetition code is redundant without being polysemantic; the overlapping code is polysemantic, and reading it
# feature by feature turns its sharing into a liability, a joint decoder into a small redundancy ($s-1$ spare units).
# Mixing (polysemanticity) is what lets a code spread its redundancy evenly, as the random linear code does, and that
# is what approaches the Shannon line; a joint decoder of an invertible mixing code loses at most the dropped units'
# bits in one layer, as the rank of the surviving rows falls by at most one per dropped unit.
#
# The results page therefore judges three claims apart, each against the monosemantic code at the same width and
# rate after {glue:text}`max_depth` layers: redundancy (the repetition code), the overlapping code counted feature by
# feature, and the overlapping code read jointly. The paper's claim, as its Fig. 2 computes it, is the first: its
# "polysemantic" curve is the repetition code (errata page); read by its word, "polysemantic", it is the other two.
#
# ## The codes' idealised spectra (Fig. 3a)
#
# Chapter 5 reads the eigenspectra of real layers. The known answers that ground that reading: drive each code of
# chapter 1 with sparse features (zero with probability {glue:text}`spectrum_sparsity`, else uniform on $[0, 1]$,
# independent) and take the eigenvalues of the activations' covariance, $v\,E E^\top$ for a feature variance $v$.

# %% tags=["hide-input"]
spectrum_sparsity, copies = 0.8, 3  # ours: any sparsity gives the same shapes
spectra = {"monosemantic": monosemantic_code(width),
           f"repetition, k = {copies}": repetition_code(width // copies, copies),
           f"polysemantic, s = {spread}": polysemantic_code(width - spread + 1, spread),
           "superposition": superposition_code(2 * width, width)}
spectra = {name: code_spectrum(E, spectrum_sparsity, 2 * n_trials, seed) for name, E in spectra.items()}
glue_values(dict(spectrum_sparsity=spectrum_sparsity, copies=copies, rep_plateau=int(width // copies),
                 rep_zero=int(width - width // copies)))
plot_code_spectra(spectra)

# %% [markdown]
# **Idealised spectra (ours; the paper's Fig. 3a sketches them).** Eigenvalues of each code's activations against
# rank, log-log. The monosemantic and the superposition codes (a tight frame) are flat: no direction is preferred.
# The {glue:text}`copies`-fold repetition code has a plateau of {glue:text}`rep_plateau` equal eigenvalues, one per
# feature, then a cliff: its other {glue:text}`rep_zero` directions carry nothing (dotted drop). The overlapping
# code's spectrum falls smoothly, then drops at its $s-1$ spare directions. A "plateau then cliff" in a measured
# spectrum is the signature of a linear,
# redundant code; a power law is neither of these idealisations.
#
# ## The note's other theorems, checked
#
# ```{prf:lemma} Entropy of a sparsified distribution — the note's Lemma 2
# :label: lem-sparse-entropy
# If each of $n$ independent features is 0 with probability $S$ and otherwise carries a value of $H_\mathrm{elem}$
# bits of entropy, the features have entropy $H = n\,[h_b(S) + (1-S)\,H_\mathrm{elem}]$.
# ```
#
# ```{prf:proof}
# The chain rule: first whether the feature is zero ($h_b(S)$ bits), then, with probability $1-S$, its value.
# ```
#
# Chapter 1's optimal encoding $D_\mathrm{opt}$ rests on this lemma. Checked on samples: one feature at sparsity
# {glue:text}`lemma_sparsity`, its non-zero values on $2^{H}$ levels with $H$ = {glue:text}`lemma_bits` bits,
# {glue:text}`lemma_samples` samples. The plug-in entropy of the samples is {glue:text}`lemma_plugin:.4f` bits;
# the lemma gives {glue:text}`lemma_formula:.4f` bits.

# %% tags=["remove-cell"]
lemma_sparsity, lemma_bits, lemma_samples = 0.8, 4, 50 * n_trials
lemma_x = quantised_sparse_samples(lemma_samples, lemma_sparsity, lemma_bits, seed)
glue_values(dict(lemma_sparsity=lemma_sparsity, lemma_bits=lemma_bits, lemma_samples=lemma_samples,
                 lemma_plugin=plugin_entropy(lemma_x),
                 lemma_formula=float(sparse_feature_entropy(lemma_sparsity, lemma_bits))))
thm4_m, thm4_n, thm4_alpha = 1000, 32, -1.0  # the check: any m, n and alpha < 0 show the sign error
thm4 = power_law_entropy(thm4_m, thm4_n, thm4_alpha)
thm4_half = power_law_entropy(thm4_m, thm4_n, thm4_alpha, variance_exponent=True)
glue_values(dict(thm4_m=thm4_m, thm4_n=thm4_n, thm4_alpha=thm4_alpha, thm4_mn=thm4_m * thm4_n,
                 thm4_exact=round(thm4.exact), thm4_closed=round(thm4.closed), thm4_printed=round(thm4.printed),
                 thm4_half_exact=round(thm4_half.exact),
                 thm4_half_closed=round(thm4_half.closed)))

# %% [markdown]
# ````{prf:theorem} Entropy under a power-law spectrum — the note's Theorem 4, corrected
# :label: thm-power-law-entropy
# Let a layer of $m$ units, each represented to $n$ bits of precision, have unit scales $\sigma_i = i^{\alpha}$
# ($\alpha < 0$). Then it carries at most
#
# $$ H \;\lesssim\; \sum_{i=1}^{m} \log_2\!\bigl(2^n \sigma_i\bigr) = mn + \alpha \log_2(m!) \;\approx\;
#    mn + \alpha\, m \log_2(m/e) \quad\text{bits.} $$
#
# If instead $\alpha$ is the exponent of the **variances** (the eigenvalues $\lambda_i = i^\alpha$, as in this
# book's spectra), then $\sigma_i = i^{\alpha/2}$ and $H \approx mn + \tfrac{\alpha}{2}\, m \log_2(m/e)$.
# ````
#
# ```{prf:proof}
# A unit of scale $\sigma_i$ resolved to a step of $2^{-n}$ takes about $2^n\sigma_i$ distinguishable values, so it
# carries at most $\log_2(2^n\sigma_i) = n + \alpha\log_2 i$ bits. Summing, $\sum_i \log_2 i = \log_2(m!)$, and
# Stirling's $\ln m! \approx m\ln(m/e)$ gives the closed form.
# ```
#
# The note prints $mn - \alpha\, m \log(m/e)$: with $\alpha < 0$ that exceeds $mn$, more than $m$ units of $n$ bits
# can hold, so the sign is wrong. Checked at $m$ = {glue:text}`thm4_m`, $n$ = {glue:text}`thm4_n`,
# $\alpha$ = {glue:text}`thm4_alpha:g`:
# the sum is {glue:text}`thm4_exact` bits and the corrected closed form {glue:text}`thm4_closed`, while the printed
# form gives {glue:text}`thm4_printed` > $mn$ = {glue:text}`thm4_mn`. Read as an eigenvalue exponent, the same
# $\alpha$ costs half as much: {glue:text}`thm4_half_exact` bits (closed form {glue:text}`thm4_half_closed`). This
# book uses the corrected form, with $\alpha$ the eigenvalue exponent and the factor $\tfrac12$.
#
# ````{prf:theorem} Action of random projections — the note's §2.5, corrected
# :label: thm-projected-action
# Let a step $a$ of a layer's trajectory have covariance $\Sigma$, and $R \in \mathbb{R}^{m \times k}$ have
# independent $N(0, 1/m)$ entries. Then the mean action of the projected step is
#
# $$ \bigl\langle \tfrac12 \|R^\top a\|^2 \bigr\rangle = \frac{k}{2m}\,\operatorname{tr}\Sigma
#    \;\approx\; \frac{k}{2m}\,\zeta(-\alpha) \quad (\lambda_i = i^\alpha,\ \lambda_1 = 1,\ \alpha < -1). $$
# ````
#
# ```{prf:proof}
# $E\,\|R^\top a\|^2 = E\,a^\top R R^\top a = a^\top (E\, R R^\top)\, a = \tfrac{k}{m}\,\|a\|^2$, and
# $E\,\|a\|^2 = \operatorname{tr}\Sigma = \sum_i \lambda_i$, which tends to $\zeta(-\alpha)$ as $m \to \infty$.
# ```
#
# The note prints $\tfrac12 \operatorname{tr}\Sigma$, dropping the factor $k/m$. Checked with the library's
# `random_projections` and `action` on random walks whose steps have the spectrum $\lambda_i = i^\alpha$
# ($m$ = {glue:text}`act_m`, $k$ = {glue:text}`act_k`, {glue:text}`act_projections` projections,
# {glue:text}`act_steps` steps):

# %%
act_m, act_k, act_projections, act_steps = 500, 3, 1000, 4000
rows = []
for alpha in (-1.5, -2.0, -3.0):
    lam = power_law_spectrum(act_m, alpha)
    steps = np.random.default_rng((seed, 400)).normal(size=(act_steps, act_m)) * np.sqrt(lam)
    walk = np.concatenate([np.zeros((1, act_m)), np.cumsum(steps, axis=0)])
    monte_carlo = float(action(random_projections(walk, act_projections, act_k, seed)).mean()) / act_steps
    rows.append(dict(alpha=alpha, monte_carlo=monte_carlo, corrected=expected_projected_action(lam, act_k),
                     printed=0.5 * lam.sum()))
action_check = pd.DataFrame(rows).set_index("alpha")
glue_values(dict(act_m=act_m, act_k=act_k, act_projections=act_projections, act_steps=act_steps,
                 act_max_rel_pct=float(100 * (action_check.monte_carlo / action_check.corrected - 1).abs().max())))
action_check.map(lambda v: f"{v:.5f}")

# %% [markdown]
# Mean action per step over projections (Monte-Carlo) against the corrected $\frac{k}{2m}\operatorname{tr}\Sigma$
# and the printed $\frac12\operatorname{tr}\Sigma$: the Monte-Carlo agrees with the corrected formula to within
# {glue:text}`act_max_rel_pct:.1f` %, and is two orders of magnitude below the printed one. Chapter 6 draws the
# corrected line.
#
# ```{prf:theorem} Optimal codes can be hard to decode — the note's §2.2, as a stated argument
# :label: thm-hard-decoding
# Assume the discrete logarithm modulo a prime $q$ is not computable in polynomial time. Then there are layers
# whose code is optimal (one-to-one, no capacity wasted) and which no polynomial-time decoder can invert: a layer
# computing $x \mapsto g^x \bmod q$, for a generator $g$, is a bijection of $\{1, \dots, q-1\}$, and inverting it is
# the discrete logarithm.
# ```
#
# ```{prf:proof}
# The map is a bijection because $g$ generates the multiplicative group; a decoder recovering $x$ from $g^x$
# would compute discrete logarithms. It is an **existence** argument: it says that capacity alone does not make a
# code readable, not that gradient descent learns such codes, nor that a network of a given size can compute the
# map. No live check: it rests on a hardness assumption.
# ```

# %% [markdown]
# ```{admonition} What is the paper's and what is ours
# :class: note
# **The paper's:** the view of dropout as an erasure channel, the capacity theorem and its bounds, the codes of
# Fig. 1b, the dropout grid $p \in \{0, 0.2, 0.4, 0.6, 0.8\}$, the layout of Fig. 2b–c, the sketch of Fig. 3a, and
# the note's Lemma 2, Theorems 3 and 4, §2.2 and §2.5 (the last two corrected here, see the errata page).
# **Ours:** the closed forms of the codes through depth (the sources do not state them; the spread $s$ of the
# polysemantic code and the width are our choices, parameters of this chapter), the names made consistent with
# chapter 1, the exact one-unit capacity, the Blahut–Arimoto check, the Monte-Carlo simulation, the joint erasure
# decoder and the random linear code, the width panels, the live checks of the theorems and every glued number.
# ```

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a few lines with the library. Its solution, behind the toggle, runs in every build of the
# book, followed by the checks an autograder applies; `polycode assignment` turns this chapter into a student
# notebook (see the instructor's page).
#
# ```{exercise} The capacity of a two-symbol unit under dropout
# :label: ex-capacity-z
# A unit with two symbols, 0 and 1, that dropout sets to 0 with probability $p$ is a Z-channel: a 1
# arrives as 0 with probability $p$, a 0 always arrives as 0. Maximise $I(X;Y)$ over $P(X = 1)$ to derive
# $C = \log_2\!\big(1 + (1-p)\,p^{p/(1-p)}\big)$ bits, evaluate it at $p = 0.3$ into `c_z`, and check it with
# `blahut_arimoto` on the channel matrix $W[x, y] = P(y \mid x)$.
# ```
#
# ```{solution-start} ex-capacity-z
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
p_z = 0.3
c_z = float(np.log2(1 + (1 - p_z) * p_z ** (p_z / (1 - p_z))))
### END SOLUTION
print(f"C = {c_z:.6f} bits at p = {p_z}")

# %% tags=["check"]
from polycode_utils.theory.capacity import blahut_arimoto, dropout_unit_capacity  # noqa: E402

assert abs(c_z - blahut_arimoto(np.array([[1.0, 0.0], [0.3, 0.7]])).capacity_bits) < 1e-6
### BEGIN HIDDEN TESTS
assert abs(c_z - float(dropout_unit_capacity(1, 0.3))) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# The capacity printed above lies below $1 - p$, what the unit would carry if the receiver knew which
# units were dropped (an erasure channel). Dropout writes a 0 that looks like a sent 0, and hides the erasure.
#
# ```{solution-end}
# ```
#
# ```{exercise} Theorem 3 for eight two-bit units
# :label: ex-capacity-bounds
# For $m = 8$ units of $C_b = 2$ bits at $p = 0.5$, compute the upper bound $(1-p)\,m\,C_b$ into `upper`
# and the proof's lower bound $(1-p)\,m\,(C_b + \log_2(1 - 2^{-C_b}))$ into `lower`, and check that $m$ times the
# exact one-unit capacity (`dropout_unit_capacity`) lies between them.
# ```
#
# ```{solution-start} ex-capacity-bounds
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
upper = (1 - 0.5) * 8 * 2
lower = (1 - 0.5) * 8 * (2 + float(np.log2(1 - 2.0 ** -2)))
### END SOLUTION
print(f"{lower:.3f} <= {8 * float(dropout_unit_capacity(2, 0.5)):.3f} <= {upper:.3f} bits")

# %% tags=["check"]
from polycode_utils.theory.capacity import dropout_unit_capacity  # noqa: E402

assert lower <= 8 * float(dropout_unit_capacity(2, 0.5)) <= upper
### BEGIN HIDDEN TESTS
from polycode_utils.theory.capacity import dropout_capacity_bounds  # noqa: E402

assert abs(upper - 8.0) < 1e-12 and abs(lower - float(dropout_capacity_bounds(8, 2, 0.5).lower)) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} How deep a monosemantic code can go
# :label: ex-capacity-depth
# With this run's `width` units of `bits_per_unit` bits at $p = 0.2$, the monosemantic code keeps
# $m\,C_b\,(1-p)^L$ bits after $L$ dropout layers. Solve for the (real) depth $L$ at which only one unit's worth,
# $C_b$ bits, is left, into `depth_one_unit`, and check it with `depth_at_capacity`.
# ```
#
# ```{solution-start} ex-capacity-depth
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
depth_one_unit = float(np.log(width) / -np.log(1 - 0.2))
### END SOLUTION
print(f"L = {depth_one_unit:.2f} layers")

# %% tags=["check"]
from polycode_utils.theory.capacity import code_capacity, depth_at_capacity  # noqa: E402

assert abs(depth_one_unit - depth_at_capacity("monosemantic", width, 0.2, bits_per_unit, bits_per_unit)) < 1e-6
### BEGIN HIDDEN TESTS
left = float(code_capacity("monosemantic", width, depth_one_unit, 0.2, bits_per_unit))
assert abs(left - bits_per_unit) < 1e-6
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
