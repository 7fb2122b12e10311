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
# # 8. Dropout where the features are known: redundant, polysemantic, or neither?

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0
n_features = 40
n_hidden = 16
hidden = "relu"
dropout_rates = [0.0, 0.1, 0.25, 0.5]
sparsities = [0.0, 0.7, 0.9]
decays = [1.0, 0.9]
n_seeds = 5
steps = 6000
other_steps = 9000
batch_size = 256
lr = 0.003
threshold = 0.3
represented_above = 0.5

# %% tags=["remove-input"]
import time

from polycode_utils.book.page import declared_parameters, glue_values, provenance_box, set_style
from polycode_utils.networks.dropout_toys import (code_measures, constant_output_loss, dropout_effect, convergence,
                                         measures_by_condition, toy_grid, train_dropout_toys)
from polycode_utils.plots.theory import plot_alpha_against_redundancy, plot_dropout_toys
from polycode_utils.reports.ch08_dropout_toys import OTHER_HIDDEN, mechanism_claims, other_model_claim

set_style()  # torch keeps its threads: the elementwise work of 120 instances gains 1.5x from a second core
glue_values(dict(n_features=n_features, n_hidden=n_hidden, hidden=hidden, n_seeds=n_seeds, threshold=threshold,
                 represented_above=represented_above))
provenance_box(profile=profile, data="none: sparse synthetic features, drawn while training",
               model=f"toy models of superposition with {hidden} hidden units and dropout on them, trained live",
               embedded_default=True,
               parameters=declared_parameters("08_dropout_toys", globals()))

# %% [markdown]
# The paper's mechanism is that a noisy channel favours redundant, polysemantic codes: dropout erases units at
# random (chapter 2), so a network trained with it should spread each feature over several units, and each unit
# should come to carry several features. Chapters 4 to 7 look for the traces of this in networks whose features
# nobody knows. Here we test it where the features are known: the toy models of chapter 1, trained with dropout.
# Pona {cite}`pona2023dropout` did this in Elhage-style toy models and reported the opposite, that dropout
# generally *inhibits* superposition, except when the features' importance varies and the inputs are sparse;
# Scherlis et al. {cite}`scherlis2022polysemanticity` frame the question as how a model allocates its capacity
# between features. This chapter reads after chapter 2; it comes last so that the numbering of the chapters the
# paper's figures refer to stays as it was.
#
# ## The models and the grid
#
# $n =$ {glue:text}`n_features` features pass through $m =$ {glue:text}`n_hidden` hidden units,
# $h = \mathrm{ReLU}(Wx)$ (the `relu` model: the units are neurons, a basis is privileged) or $h = Wx$ (the
# `linear` model of chapter 1), and back, $x' = \mathrm{ReLU}(W^\top (\mu \odot h)/(1-p) + b)$, where each mask
# $\mu_j$ keeps unit $j$ with probability $1-p$. This run uses the {glue:text}`hidden`
# model. Features are sparse as in chapter 1, with importance $I_i = d^i$ ($d = 1$: all alike). Every
# combination of seed, sparsity, importance and rate is one instance of one batched model; the instances of a seed
# share their initial weights, inputs and masks, so each differs from its $p = 0$ twin, **the control**, by the
# dropout alone [ours].

# %%
grid = toy_grid(n_features, dropout_rates, sparsities, decays, n_seeds)
start = time.perf_counter()
result = train_dropout_toys(grid, n_hidden, hidden=hidden, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
table = code_measures(result, represented_above=represented_above, threshold=threshold,
                      test_dropout=max(dropout_rates))

# %% [markdown]
# ## What the codes are, measured where the truth is known
#
# From each trained $W$, on the code the units carry (for ReLU units and inputs $\ge 0$, the positive part of
# $W$: a negative weight never makes a unit fire), four measures, each tested on codes of known answer (a
# repetition code, the monosemantic code, a pentagon):
# **features represented**, $\lVert W_i \rVert > $ {glue:text}`represented_above:g`;
# **neurons per feature**, the units with $|W_{ji}| >$ {glue:text}`threshold:g` per represented feature
# (redundancy); **features per neuron**, the represented features above that threshold per unit that carries any
# (polysemanticity); and the **loss with masks** at the grid's highest rate, $p =$ {glue:text}`p_max:g`, on
# fresh inputs (robustness). Both thresholds are ours; a threshold-free version of the two counts (participation
# ratios) is computed beside them.

# %% tags=["remove-cell"]
p_max, trained = max(dropout_rates), convergence(result, table)
off, trivial = table["loss_masks_off"].to_numpy(), constant_output_loss(grid)
twin_on = table[table["dropout"] == 0.0]["loss_masks_on"].to_numpy()
glue_values(dict(train_seconds=time.perf_counter() - start, p_max=p_max, n_instances=int(grid.dropout.size),
                 n_conditions=len(sparsities) * len(decays), gain_worst=trained.worst_gain, n_still=trained.n_still,
                 share_of_trivial_worst=float((off / trivial).max()),
                 robust_ratio=float(table[table["dropout"] == p_max]["loss_masks_on"].to_numpy().mean()
                                    / twin_on.mean())))

# %% tags=["hide-input"]
glue_values(dict(fig_toys=plot_dropout_toys(table)))

# %% [markdown]
# ```{glue:figure} fig_toys
# :name: fig-dropout-toys
#
# **Dropout and the toy models' codes (ours: the experiment is not in the paper).** Against the dropout rate,
# for each sparsity (colour) and importance (solid: all alike; dashed: decaying), the mean and SD over
# {glue:text}`n_seeds` seeds of the features represented, the dimensions per feature $D^*$ (chapter 1's), the
# neurons per feature, the features per neuron, and the loss with masks at $p =$ {glue:text}`p_max:g` (the $p = 0$
# points are the controls).
# ```
#
# **Training check.** {glue:text}`n_instances` models, trained in {glue:text}`train_seconds:.0f` s. The rule
# [ours]: a model is converged when its mean training loss fell by less than 2 % from the third quarter of the
# steps to the last, and it has learnt when its loss without masks is below the best constant output's. The
# largest fall was {glue:text}`gain_worst:.1%` ({glue:text}`n_still` models still falling); the worst model's
# loss is {glue:text}`share_of_trivial_worst:.0%` of the constant output's. Robustness is what dropout trains
# for, and it is learnt: under masks at $p =$ {glue:text}`p_max:g`, the models trained at that rate lose
# {glue:text}`robust_ratio:.2f` times as much as their twins trained without.

# %% tags=["remove-cell"]
glue_values(mechanism_claims(table, p_max, trained=trained))

# %% [markdown]
# ## The verdicts
#
# Each claim is counted over the {glue:text}`n_conditions` conditions (sparsity × importance) at
# $p =$ {glue:text}`p_max:g`, and its effect, rate minus control, is averaged per seed (the rule of the results
# page).
#
# - **Dropout makes codes redundant** (the paper): **{glue:text}`claim_toys_redundant`**;
#   {glue:text}`claim_toys_redundant_reason`. Measured: {glue:text}`claim_toys_redundant_measured`. Effect:
#   {glue:text}`claim_toys_redundant_control`.
# - **Dropout makes codes polysemantic** (the paper): **{glue:text}`claim_toys_polysemantic`**;
#   {glue:text}`claim_toys_polysemantic_reason`. Measured: {glue:text}`claim_toys_polysemantic_measured`.
#   Effect: {glue:text}`claim_toys_polysemantic_control`.
# - **Dropout inhibits superposition** (Pona's counter-claim): **{glue:text}`claim_toys_pona`**;
#   {glue:text}`claim_toys_pona_reason`. Measured: {glue:text}`claim_toys_pona_measured`. Effect:
#   {glue:text}`claim_toys_pona_control`.
#
# **Reading.** Neurons per feature rise with dropout in {glue:text}`toys_redundant_up`, and fall in the other
# conditions; features per neuron rise in {glue:text}`toys_polysemantic_up` (the effect of each condition, in
# brackets, is the difference of the seed means). Set this beside Pona's exception, importance that varies at
# low sparsity: the conditions are few, and the thresholds of the two counts are ours, so the page states the
# counts and their threshold-free twins (the participation ratios in the *measured* entries) side by side. The
# table gives each measure's mean over seeds by condition and rate.

# %%
glue_values(dict(toys_table=measures_by_condition(table, n_hidden).round(2)))

# %% [markdown]
# ```{glue:} toys_table
# ```
#
# **Chapter 2's optimum beside the trained choice.** The last column, `k_opt`, is the repetition factor that
# chapter 2's closed form says keeps the most capacity through one dropout layer of {glue:text}`n_hidden` units
# at that rate (`best_redundancy`). It is 1 at every rate: $\lfloor m/k \rfloor (1-p^k) \le m(1-p^k)/k \le
# m(1-p)$, since $1-p^k = (1-p)(1+p+\dots+p^{k-1})$. One dropout layer never pays for redundancy; in chapter 2
# only depth does. So capacity alone predicts no rise in neurons per feature here; the neurons per feature of the
# $p = 0$ rows measure what superposition alone does ({glue:text}`n_features` features in {glue:text}`n_hidden`
# units), without dropout. The toy model's loss weighs features by importance and
# sparsity, which the capacity argument does not: the comparison says what capacity predicts, not what the loss
# must choose.

# %% [markdown]
# ## The other model: {glue:text}`other` hidden units
#
# Pona's toy models are Elhage et al.'s, with no nonlinearity on the hidden layer. The same grid, at the control
# and the highest rate only, trained with the {glue:text}`other` hidden layer for {glue:text}`other_steps` steps
# (the same seeds, initial weights, inputs and masks; more steps, as the linear model settles more slowly), judged by
# the same rule and convergence rule: Pona's counter-claim in this model is
# **{glue:text}`claim_toys_pona_other`** ({glue:text}`claim_toys_pona_other_reason`; effect:
# {glue:text}`claim_toys_pona_other_control`). The table gives its measures by condition; its neurons per
# feature and features per neuron count weights, not neurons that fire, when the hidden layer is linear (no basis
# is privileged there).

# %%
other = OTHER_HIDDEN[hidden]
other_result = train_dropout_toys(toy_grid(n_features, [0.0, p_max], sparsities, decays, n_seeds), n_hidden,
                                  hidden=other, steps=other_steps, batch_size=batch_size, lr=lr, seed=seed)
other_table = code_measures(other_result, represented_above=represented_above, threshold=threshold,
                            test_dropout=p_max)

# %% tags=["remove-cell"]
glue_values(other_model_claim(other_table, p_max, hidden=other, trained=convergence(other_result, other_table)))
glue_values(dict(other=other, other_steps=other_steps, other_table=measures_by_condition(
    other_table, n_hidden, measures=("represented", "d_star", "neurons_per_feature", "features_per_neuron",
                                     "loss_masks_on")).round(2)))

# %% [markdown]
# ```{glue:} other_table
# ```

# %% [markdown]
# ## What the paper's instrument sees: $\alpha$ against the known redundancy
#
# Chapters 5 and 7 read a layer's code from the exponent $\alpha$ of its activations' eigenspectrum. Here the
# redundancy is known, so we can ask what $\alpha$ says about it: each model's $\alpha$, fitted over all
# {glue:text}`n_hidden` principal components of its hidden activations (few points: a coarse fit), against its
# neurons per feature. Spearman's correlation over all models is {glue:text}`rho_all:+.2f`; among the controls
# alone ($p = 0$), {glue:text}`rho_control:+.2f`; and dropout moves $\alpha$ by
# {glue:text}`claim_alpha_effect:s` against the twins. $\alpha$ is signed (negative: a falling spectrum), so a
# negative correlation means that steeper spectra go with more neurons per feature; the change that dropout makes
# to $\alpha$ and the one it makes to the redundancy can be read against each other in the table above.
#
# The paper's other instrument, the reliable share of cvPCA (chapter 5), needs noise to separate reliable from
# unreliable variance; the toy's hidden units carry none, so we take it of the reconstruction under two independent
# mask draws at $p =$ {glue:text}`p_max:g` on the same inputs (every model, its $p = 0$ twin too). On planted codes
# it rises with redundancy, as the library's tests check against closed forms (the monosemantic code against a
# 2-fold repetition). Here its Spearman correlation with the neurons per feature over all models is
# {glue:text}`rho_reliable:+.2f`, and dropout moves it by {glue:text}`reliable_effect:s` against the twins.

# %% tags=["remove-cell"]
rho = table[["alpha", "neurons_per_feature"]].corr("spearman").iloc[0, 1]
rho0 = table[table.dropout == 0][["alpha", "neurons_per_feature"]].corr("spearman").iloc[0, 1]
rho_reliable = table[["reliable_share", "neurons_per_feature"]].corr("spearman").iloc[0, 1]
glue_values(dict(rho_all=float(rho), rho_control=float(rho0), rho_reliable=float(rho_reliable),
                 claim_alpha_effect=dropout_effect(table, "alpha", p_max, "α, p − control")[0].text(),
                 reliable_effect=dropout_effect(table, "reliable_share", p_max, "reliable share, p − control")[0]
                 .text()))

# %% tags=["hide-input"]
glue_values(dict(fig_alpha=plot_alpha_against_redundancy(table)))

# %% [markdown]
# ```{glue:figure} fig_alpha
# :name: fig-dropout-toys-alpha
#
# **The spectrum's exponent against the ground truth (ours).** Each point is one toy model: $\alpha$ of its
# hidden activations (PCs 1 to {glue:text}`n_hidden`) against its neurons per feature, coloured by the dropout
# rate it was trained at; marker: importance.
# ```
#
# ```{admonition} The paper's and ours in this chapter
# :class: note
# **Paper:** the mechanism under test, that dropout favours redundant, polysemantic codes; the toy models are
# Elhage et al.'s {cite}`elhage2022toy`. **Ours:** the experiment itself, after Pona {cite}`pona2023dropout`; the
# ReLU variant, the grid, the pairing with a $p = 0$ twin, the thresholds of the measures, the convergence rule,
# and the reading of $\alpha$ against the known redundancy.
# ```

# %% [markdown]
# ## Exercises
#
# ```{exercise} The repetition code's neurons per feature (warm-up)
# :label: ex-toys-repetition
# Build the 3-fold repetition code of 4 features with `repetition_code` and compute its neurons per feature and
# features per neuron with the thresholds of this chapter (`neurons_per_feature`, `features_per_neuron`, both
# with `threshold`), into `rep_npf` and `rep_fpn` (arrays).
# ```
#
# ```{solution-start} ex-toys-repetition
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
from polycode_utils.theory.codes import features_per_neuron, neurons_per_feature, repetition_code  # noqa: E402

rep_npf = neurons_per_feature(repetition_code(4, 3), threshold)
rep_fpn = features_per_neuron(repetition_code(4, 3), threshold)
### END SOLUTION
print(rep_npf, rep_fpn)

# %% tags=["check"]
assert list(rep_npf) == [3] * 4
### BEGIN HIDDEN TESTS
assert list(rep_fpn) == [1] * 12
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} Where dropout drops the most features
# :label: ex-toys-drop
# From `table`, find the (sparsity, decay) condition in which training at the highest rate represents the fewest
# features compared with its $p = 0$ twin (the largest mean fall over seeds), into `worst_condition`, a pair
# (sparsity, decay).
# ```
#
# ```{solution-start} ex-toys-drop
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
means = table.groupby(["sparsity", "decay", "dropout"])["represented"].mean().unstack("dropout")
worst_condition = tuple(float(v) for v in (means[0.0] - means[max(dropout_rates)]).idxmax())
### END SOLUTION
print(worst_condition)

# %% tags=["check"]
assert tuple(worst_condition) in set(zip(table["sparsity"], table["decay"]))
### BEGIN HIDDEN TESTS
fall = (table[table.dropout == 0].groupby(["sparsity", "decay"])["represented"].mean()
        - table[table.dropout == max(dropout_rates)].groupby(["sparsity", "decay"])["represented"].mean())
assert fall[tuple(worst_condition)] == fall.max()
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} The effect at a lower rate
# :label: ex-toys-lower
# Use `dropout_effect` to compute the effect of the lowest non-zero rate on the features per neuron; put its mean
# over seeds into `low_mean` and its number of seeds into `low_n`. Is the paper's mechanism stronger or weaker
# there than at the highest rate?
# ```
#
# ```{solution-start} ex-toys-lower
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
effect_low = dropout_effect(table, "features_per_neuron", min(p for p in dropout_rates if p > 0),
                            "features per neuron")[0]
low_mean, low_n = effect_low.mean, effect_low.n
### END SOLUTION
print(low_mean, low_n)

# %% tags=["check"]
assert low_n == n_seeds
### BEGIN HIDDEN TESTS
low_rate = min(p for p in dropout_rates if p > 0)
base = table[table.dropout == 0].groupby("seed")["features_per_neuron"].mean()
at = table[table.dropout == low_rate].groupby("seed")["features_per_neuron"].mean()
assert abs(low_mean - float((at - base).mean())) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
