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
n_features = 200
n_hidden = 20
n_sparsities = 20
steps = 10000
batch_size = 256
bits_per_value = 32.0
entropy_sweep = [1.0, 2.0, 4.0, 8.0, 32.0]

# %% tags=["remove-input"]
import time

import torch
from myst_nb import glue

from polycode_utils.book.page import declared_parameters, glue_values, provenance_box, set_style
from polycode_utils.theory.codes import (density_at_optimal_dims, dimensions_per_feature, entropy_at_flip,
                                  feature_dimensionality, monosemantic_code, neurons_per_feature,
                                  optimal_dims_per_feature, optimum_by_entropy, polysemantic_code, superposition_code)
from polycode_utils.plots.theory import plot_codes, plot_dimensions_vs_sparsity, plot_training_losses
from polycode_utils.reports.ch01_codes import fig1c_claims
from polycode_utils.theory.toy_models import (compare_with_optimum, elhage_sparsities, smooth_plateau, sticky_plateau,
                                       train_toy_models)

set_style()
# The toy models' ops are small; on a shared 2-core machine one thread avoids stalls between competing
# OpenMP threads (measured: up to 10x slower with two threads when the other core is busy).
torch.set_num_threads(1)
provenance_box(profile=profile, data="none: sparse synthetic features, drawn while training",
               model="toy models of superposition, x' = ReLU(WᵀWx + b) (Elhage et al. 2022), trained live",
               embedded_default=True,
               parameters=declared_parameters("01_codes", globals()))

# %% tags=["remove-cell"]
# Numbers that the prose quotes from the parameters: glued, never typed.
glue_values(dict(n_features=int(n_features), n_hidden=int(n_hidden), n_sparsities=int(n_sparsities), steps=int(steps),
                 batch_size=int(batch_size), bits_per_value=float(bits_per_value),
                 batch_share=batch_size / 1024))  # of the paper's batch of 1024 (Elhage et al.)

# %% [markdown]
# The paper {cite}`marshall2024polysemanticity` reads a layer of a neural network as a **code**. The *messages*
# are the values of the $n$ features the layer must pass on (an edge here, a word there); the *codewords* are the
# activities of its $m$ neurons. We write a (linear) code as an encoding matrix $E$ of shape $m \times n$: column
# $j$ is the pattern of activity that feature $j$ writes onto the neurons, the same layout as the weight matrix
# $W$ of the toy models below.
#
# The neurons are the symbols of a **channel** to the next layer. A neuron carries a finite number of bits, set
# by how finely the next layer can read its activation, and the channel may be noisy: dropout, for instance,
# erases neurons at random (chapter 2). **Redundancy** is what a code spends beyond the information of its
# messages: writing a feature onto several neurons costs capacity, but lets the receiver recover it when some of
# them are lost. The opposite is compression: if features are rarely active together, fewer neurons than features
# can carry them, at the price of some interference.
#
# One number places a code on this scale: its **dimensions per feature** $D = m / \lVert E \rVert_F^2$
# {cite}`elhage2022toy`, the neuron dimensions each (unit-norm) feature occupies. $D = 1$ is one neuron per
# feature, $D > 1$ is redundancy, $D < 1$ is compression.
#
# ## Three codes (Fig. 1b)
#
# The paper's Fig. 1b sketches three codes of a layer. We build one of each with the library's constructors and
# draw them from their matrices (the particular matrices are ours; the figure is a schematic):
#
# - **monosemantic**: feature $j$ drives neuron $j$ alone, one neuron per feature, no overlap;
# - **polysemantic**: each feature is written onto $k$ neighbouring neurons, so neighbouring features share
#   neurons (overlap), and the code stays one-to-one: every feature can still be read out;
# - **superposition**: more features than neurons, $n > m$, each feature a direction spread over all neurons.
#   The paper notes this is a sub-type of the polysemantic code; here it is a tight frame, every neuron
#   carrying the same load.

# %%
codes = {"monosemantic": monosemantic_code(4),
         "polysemantic": polysemantic_code(4, redundancy=2),
         "superposition": superposition_code(5, 3)}

# %% tags=["remove-cell"]
for name, E in codes.items():
    glue(f"{name}_n", int(E.shape[1]), display=False)
    glue(f"{name}_m", int(E.shape[0]), display=False)
    glue(f"{name}_D", float(dimensions_per_feature(E)), display=False)
glue("poly_k", int(neurons_per_feature(codes["polysemantic"])[0]), display=False)


# %% tags=["hide-input"]
glue("fig_1b", plot_codes(codes), display=False)

# %% [markdown]
# ```{glue:figure} fig_1b
# :name: fig-1b
#
# **The paper's Fig. 1b, drawn from the library's constructors.** Top: each feature (orange) is wired to the
# neurons (grey) it drives; line width is the size of the weight, red positive, blue negative. Bottom: the
# encoding matrix $E$ (neurons × features), in the same colours. Monosemantic:
# $D =$ {glue:text}`monosemantic_D:.2f`. Polysemantic with $k =$ {glue:text}`poly_k` neurons per feature:
# $D =$ {glue:text}`polysemantic_D:.2f`, the redundancy.
# Superposition of {glue:text}`superposition_n` features in {glue:text}`superposition_m` neurons:
# $D =$ {glue:text}`superposition_D:.2f`. The schematic is the paper's; these matrices are our instances of it.
# ```
#
# ## How dense can a code be? (the paper's theory)
#
# How few dimensions per feature could an ideal code get away with? The paper's supplementary note counts bits. A
# feature that is zero with probability $S$ (its **sparsity**) and otherwise takes one of $2^{H_\mathrm{elem}}$
# distinguishable values has entropy
#
# $$ H(\text{feature}) = h_b(S) + (1-S)\,H_\mathrm{elem}, \qquad h_b(S) = -S\log_2 S - (1-S)\log_2(1-S): $$
#
# the bits saying *whether* it is active, plus, when it is, the bits of its value. A neuron carries at most
# $H_\mathrm{elem}$ bits. An optimal encoding therefore needs
#
# $$ D_\mathrm{opt}(S) = \frac{H(\text{feature})}{H_\mathrm{elem}} = (1-S) + \frac{h_b(S)}{H_\mathrm{elem}} $$
#
# neuron dimensions per feature, which tends to $1-S$ as the values get more precise. The sources do not say how
# many bits a value has: $H_\mathrm{elem}$ is the parameter `bits_per_value` [ours], here
# {glue:text}`bits_per_value:g` bits. At $S = 0.9$ this gives $D_\mathrm{opt} =$ {glue:text}`d_opt_check:.4f`,
# against $1 - S = 0.1$ in the limit.

# %% tags=["remove-cell"]
glue("d_opt_check", float(optimal_dims_per_feature(0.9, bits_per_value)), display=False)

# %% [markdown]
# ## Toy models of superposition, trained live (Fig. 1c)
#
# The paper compares $D_\mathrm{opt}$ with what networks actually do, using the toy models of superposition of
# Elhage et al. {cite}`elhage2022toy`: $n$ features pass through $m < n$ hidden dimensions and back,
#
# $$ x' = \mathrm{ReLU}(W^\top W x + b), \qquad W \in \mathbb{R}^{m\times n}, $$
#
# with each $x_i = 0$ with probability $S$ and uniform on $[0, 1]$ otherwise, trained to minimise
# $\sum_i (x_i - x'_i)^2$ (all features equally important). Their setting, and the paper's, is $n = 200$,
# $m = 20$, twenty sparsities with $1/(1-S)$ spaced evenly in log from 1 to 20, AdamW at learning rate $10^{-3}$,
# 10,000 steps of batches of 1024. This run trains $n =$ {glue:text}`n_features` features through
# $m =$ {glue:text}`n_hidden` dimensions at {glue:text}`n_sparsities` sparsities, for {glue:text}`steps` steps of
# batches of {glue:text}`batch_size`: all sparsities as **one batched model** whose weights have a leading
# instance axis. This run's batches hold {glue:text}`batch_share:.0%` of the paper's 1024 samples: the
# `default` profile keeps the paper's steps but uses smaller batches, so that the chapter builds within its time
# budget on a 2-core CPU; the `paper` profile restores the paper's setting.

# %%
sparsities = elhage_sparsities(n_sparsities)
start = time.perf_counter()
result = train_toy_models(n_features, n_hidden, sparsities, steps=steps, batch_size=batch_size, lr=1e-3,
                          seed=seed)
train_seconds = time.perf_counter() - start

# %% [markdown]
# From the trained weights, two measures of Elhage et al.: the dimensions per feature of each model,
# $D^* = m / \lVert W \rVert_F^2$ (the code's $D$ from above, now learnt), and the dimensionality of each feature
# $i$, $D_i = \lVert W_i \rVert^2 / \sum_j (\hat W_i \cdot W_j)^2$, the share of a dimension that feature $i$ has
# to itself: 1 if no other feature overlaps it, $1/2$ for an antipodal pair, $2/3$ for a triangle, 0 if it is not
# represented.

# %%
d_star = dimensions_per_feature(result.weights)          # one per sparsity
d_feature = feature_dimensionality(result.weights)       # (sparsities, features)
d_opt = optimal_dims_per_feature(sparsities, bits_per_value)

# %% tags=["remove-cell"]
comparison = compare_with_optimum(d_star, d_feature, d_opt, n_hidden)  # the numbers and verdicts of Fig. 1c
glue_values(comparison.numbers())
inv_density = 1.0 / (1.0 - sparsities)
glue_values(dict(train_seconds=float(train_seconds), sparsest_inv_density=float(inv_density[-1]),
                 sparsest_S=float(sparsities[-1]), d_limit_sparsest=float(1.0 - sparsities[-1]),
                 m_over_n=n_hidden / n_features, loss_first=float(result.losses[:100].mean(axis=0).mean()),
                 loss_last=float(result.losses[-100:].mean(axis=0).mean())))

# %% tags=["remove-cell"]
# Sentences whose truth depends on the run: chosen by the verdicts, so that the prose never claims what the run
# does not show (a short `smoke` run is not converged).
glue("dense_reading", "one dimension per feature on average" if comparison.dense_settled else
     "not yet one dimension per feature on average: this run is too short for the dense model to settle",
     display=False)
glue("dense_code_reading", "here they learn a rotated, distributed code in which no feature has a dimension "
     "to itself" if comparison.distributed else
     "here, even so, most of the dimensions went to single features", display=False)
glue("above_reading", "as the theory expects of any code that is not optimal" if comparison.all_above else
     "and below it elsewhere, which a code that loses no information cannot do: these models are not converged "
     "or reconstruct their inputs poorly", display=False)
plateau = sticky_plateau(d_star, tolerance=0.03)  # the longest run of D* near one sticky fraction (not 1)
glue("plateau_reading",
     f"{plateau.length} consecutive sparsities, from 1/(1-S) = {inv_density[plateau.first]:.2f} to "
     f"{inv_density[plateau.last]:.2f}, stay within 0.03 of the sticky fraction {plateau.fraction}"
     if plateau.length >= 2 else "in this run no two consecutive sparsities stay within 0.03 of the same sticky "
     "fraction", display=False)

# %% tags=["remove-cell"]
smooth = smooth_plateau(d_star, sparsities)  # the control of the sticky plateau
glue_values(dict(h_flip=entropy_at_flip(sparsities, d_star), smooth_length=smooth.length,
                 entropy_table=optimum_by_entropy(sparsities, d_star, n_hidden / n_features, entropy_sweep)))
glue_values(fig1c_claims(comparison, d_star, d_opt, sparsities, plateau, smooth, bits_per_value))

# %% tags=["hide-input"]
glue("fig_1c", plot_dimensions_vs_sparsity(sparsities, d_star, d_feature, bits_per_value, floor=n_hidden / n_features),
     display=False)
glue("floor_crossing", density_at_optimal_dims(n_hidden / n_features, bits_per_value), display=False)

# %% [markdown]
# ```{glue:figure} fig_1c
# :name: fig-1c
#
# **The paper's Fig. 1c, regenerated: dimensions per feature against sparsity.** Grey line: $D^*$ of the toy models
# trained in this run ({glue:text}`n_features` features, {glue:text}`n_hidden` hidden dimensions; the paper
# plots the data of Elhage et al. instead). Grey dots: the dimensionality $D_i$ of every feature. Green: the
# paper's theory of optimal encoding, $D_\mathrm{opt}(S)$, with $H_\mathrm{elem} =$
# {glue:text}`bits_per_value:g` bits per value, our choice (the sources leave it open); dotted, its limit $1-S$.
# Dashed: the "sticky" fractions 1, 3/4, 2/3, 1/2, 2/5, 3/8 at which Elhage et al. found $D^*$ to linger.
# Red dash-dotted: the floor $m/n$ of a model of this size (ours; below).
# ```
#
# **Reading the figure.** At dense inputs, $D^* =$ {glue:text}`d_star_dense:.3f`: the models use
# {glue:text}`dense_reading`. That need not be the monosemantic code, whose features have $D_i = 1$ for
# {glue:text}`n_hidden` of them and 0 for the rest. In this run, at dense inputs, {glue:text}`n_half_dense`
# features have $D_i > 1/2$ and the largest $D_i$ is {glue:text}`d_feature_dense_max:.2f`; the $D_i$ average
# {glue:text}`d_feature_dense_mean:.3f`, against $m/n =$ {glue:text}`m_over_n:.3f` for any code that projects the
# features orthogonally onto $m$ dimensions, the monosemantic one included. With dense, equally important
# features every such projection loses as much as any other (as for the principal components of isotropic
# data), so nothing makes the models align it with single features; {glue:text}`dense_code_reading`. (With
# importances that decay from feature to feature, the most important features do get a dimension each; the tests
# check this.)
#
# As the features get sparser, $D^*$ falls: the models pack more features than they have dimensions. At the
# sparsest setting, $1/(1-S) =$ {glue:text}`sparsest_inv_density:.0f` ($S =$ {glue:text}`sparsest_S:.2f`),
# $D^* =$ {glue:text}`d_star_sparsest:.3f`, with {glue:text}`n_represented_sparsest` of the
# {glue:text}`n_features` features represented ($D_i > 0.05$), while optimal encoding would need only
# $D_\mathrm{opt} =$ {glue:text}`d_opt_sparsest:.3f` ($1 - S =$ {glue:text}`d_limit_sparsest:.3f` in the
# limit): the trained models use {glue:text}`d_gap_sparsest:.3f` more dimensions per feature than the optimum,
# {glue:text}`d_ratio_sparsest:.1f` times as many. $D^*$ lies on or above $D_\mathrm{opt}$ at
# {glue:text}`n_above_opt` of the {glue:text}`n_sparsities` sparsities (smallest ratio
# $D^*/D_\mathrm{opt} =$ {glue:text}`min_ratio:.2f`), {glue:text}`above_reading`.
#
# **A floor the model's size imposes (ours).** $D_\mathrm{opt}$ is the dimensions per feature of a *lossless* code
# of the features' entropy. The toy model is not that: it writes each represented feature as a direction of
# roughly unit norm, so a model that represents all $n$ features has $\|W\|_F^2 \approx n$ and
# $D^* \ge m/n =$ {glue:text}`m_over_n:.3f` however sparse the inputs; it can only go lower by dropping features,
# a lossy code. $D_\mathrm{opt}$ falls below that floor from $1/(1-S) \approx$
# {glue:text}`floor_crossing:.1f` on, so in the sparsest settings part of the gap between $D^*$ and
# $D_\mathrm{opt}$ is forced by the model's size, not by a suboptimal code.
#
# **How much the verdict rests on our choices (ours).** At {glue:text}`n_forced` of the {glue:text}`n_sparsities`
# sparsities $D_\mathrm{opt}$ lies below that floor, so $D^* \ge D_\mathrm{opt}$ holds there for any model that
# represents every feature: the results page leaves them out and counts the {glue:text}`n_tested` others. And
# $D_\mathrm{opt}$ rests on $H_\mathrm{elem}$, which the sources leave open: the trained $D^*$ lies on or above it
# at every sparsity only for $H_\mathrm{elem} \ge$ {glue:text}`h_flip:.1f` bits. Below, the count at each
# $H_\mathrm{elem}$ of the sweep (a smaller $H_\mathrm{elem}$ raises $D_\mathrm{opt}$ and forces fewer sparsities).
#
# ```{glue:} entropy_table
# ```
#
# On the way down, $D^*$ does not fall smoothly: {glue:text}`plateau_reading`. The paper reads these plateaus as
# places where the network's code deviates from the optimal one: the geometry of a few features sharing a few
# dimensions (antipodal pairs at 1/2, triangles at 2/3, pentagons at 2/5) is locally stable, and the models
# stay in it while the optimum moves on. Is that more than any smooth fall would show? A cubic in $\log 1/(1-S)$
# fitted to the same $D^*$, which lingers nowhere by design, stays as near one fraction as the plateau rule asks
# for {glue:text}`smooth_length` consecutive sparsities; the results page counts the plateau as sticky only when it is
# at least {glue:text}`sticky_margin` sparsities longer than that (ours; one seed, so no interval).

# %% tags=["hide-input"]
glue("fig_loss", plot_training_losses(result.losses, sparsities), display=False)

# %% [markdown]
# ```{glue:figure} fig_loss
# :name: fig-1c-loss
#
# **Training check (ours).** The loss of each of the {glue:text}`n_sparsities` toy models, a running mean over
# one hundredth of the {glue:text}`steps` steps, coloured by $1/(1-S)$. Averaged over the models it falls from
# {glue:text}`loss_first:.4f` in the first hundred steps to {glue:text}`loss_last:.4f` in the last hundred;
# training took {glue:text}`train_seconds:.0f` s in this run.
# ```
#
# ```{admonition} The paper's and ours in this chapter
# :class: note
# **Paper:** the three codes as a schematic (Fig. 1b); $D_\mathrm{opt}(S) = (1-S) + h_b(S)/H_\mathrm{elem}$ from
# its supplementary note; the toy-model setting of Elhage et al. and the sticky fractions (Fig. 1c).
# **Ours:** the particular matrices of the three codes; $H_\mathrm{elem}$ (`bits_per_value`); regenerating the
# data of Fig. 1c by training the toy models here rather than extracting them from Elhage et al.; Xavier-normal
# initialisation per model; common random inputs for all sparsities (each model still sees exactly its own input
# distribution); in the `default` profile, smaller batches than the paper's.
# ```

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a few lines with the library; its solution (hidden behind the toggle) runs in every build
# of the book, followed by the checks an autograder applies (`polycode assignment` makes a student version of this
# chapter: see the instructor's page).
#
# ```{exercise} $D_\mathrm{opt}$ at one byte per value (warm-up)
# :label: ex-codes-byte
# Compute $D_\mathrm{opt}$ at sparsity $S = 0.9$ for non-zero values of one byte ($H_\mathrm{elem} = 8$ bits)
# instead of this run's {glue:text}`bits_per_value:.0f`, with `optimal_dims_per_feature`, into `d_opt_byte`. Is it
# larger or smaller, and why?
# ```
#
# ```{solution-start} ex-codes-byte
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
d_opt_byte = float(optimal_dims_per_feature(0.9, 8.0))
### END SOLUTION
print(f"D_opt(S = 0.9, 8 bits) = {d_opt_byte:.4f}")

# %% tags=["check"]
from polycode_utils.theory.codes import binary_entropy  # noqa: E402

assert abs(d_opt_byte - (0.1 + float(binary_entropy(0.9)) / 8)) < 1e-9
### BEGIN HIDDEN TESTS
assert d_opt_byte > float(optimal_dims_per_feature(0.9, 32.0))
### END HIDDEN TESTS

# %% [markdown]
# Larger: the position of the non-zero values costs $h_b(S)$ bits per feature whatever the values are, and
# dividing that cost by fewer bits per value makes it weigh more dimensions.
#
# ```{solution-end}
# ```
#
# ```{exercise} The element entropy that puts the optimum at 0.1
# :label: ex-codes-entropy
# For $S = 0.95$, find $H_\mathrm{elem}$ (bits) at which $D_\mathrm{opt} = 0.1$, in closed form from
# $D_\mathrm{opt}(S) = (1-S) + h_b(S)/H_\mathrm{elem}$, into `h_elem_for_tenth`; check it with
# `optimal_dims_per_feature`.
# ```
#
# ```{solution-start} ex-codes-entropy
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
from polycode_utils.theory.codes import binary_entropy  # noqa: E402

h_elem_for_tenth = float(binary_entropy(0.95)) / (0.1 - 0.05)
### END SOLUTION
print(f"H_elem = {h_elem_for_tenth:.3f} bits; D_opt = {float(optimal_dims_per_feature(0.95, h_elem_for_tenth)):.4f}")

# %% tags=["check"]
assert abs(float(optimal_dims_per_feature(0.95, h_elem_for_tenth)) - 0.1) < 1e-9
### BEGIN HIDDEN TESTS
assert 5.7 < h_elem_for_tenth < 5.8
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} Where the trained models cross one half
# :label: ex-codes-half
# Using this run's `sparsities` and `d_star`, find $1/(1-S)$ at the first sparsity where the trained $D^*$ falls
# below $1/2$, the antipodal fraction, into `inv_density_half` (`float("inf")` if it never does). Compare it with
# $D_\mathrm{opt}$ there: how many times more dimensions per feature do the models use than an optimal code?
# ```
#
# ```{solution-start} ex-codes-half
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
below = [i for i, d in enumerate(d_star) if d < 0.5]
inv_density_half = float(1 / (1 - sparsities[below[0]])) if below else float("inf")
### END SOLUTION
print(f"D* < 1/2 from 1/(1-S) = {inv_density_half:.2f}")

# %% tags=["check"]
import numpy as np  # noqa: E402

crossed = np.flatnonzero(np.asarray(d_star) < 0.5)
assert (inv_density_half == float("inf")) == (crossed.size == 0)
### BEGIN HIDDEN TESTS
if crossed.size:
    assert abs(inv_density_half - 1 / (1 - sparsities[crossed[0]])) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
