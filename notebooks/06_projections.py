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
# # 6. Random projections of a moving dot

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0
dataset = "patches"
dropout_rates = [0.0, 0.4, 0.8]
n_seeds = 3
width = 8
latent_dim = 32
epochs = 5
n_patches = 3000
batch_size = 50
lr = 0.001
device = "auto"
layers = ["input", "stem", "layer1", "layer2", "layer3", "layer4", "pooled", "fc1", "fc2", "mu"]
n_frames = 100
radius = 10.0
dot_radius = 2.0
n_projections = 1000
k = 3
show_dropout = 0.0
normalise = "variance"
n_eval_images = 1000
fit_range = [1, 100]
fit_method = "huber"
batchnorm = "recalibrated"

# %% tags=["remove-cell"]
from tqdm.auto import tqdm

from polycode_utils.book.page import glue_values, provenance_box, set_style
from polycode_utils.book.paths import data_dir, network_store
from polycode_utils.checks import check_choice
from polycode_utils.data import evaluation_images
from polycode_utils.layerwise import (NORMALISATIONS, action_alpha, action_order, circle_action, dot_actions,
                                      iid_action, last_dot_pc, layer_spectra, monte_carlo_gap, noise_like_layers,
                                      rate_label, shown_network, depth_table, stringer_check)
from polycode_utils.models import check_layers
from polycode_utils.plots.projections import (plot_action_against_alpha, plot_action_by_depth, plot_dot_frames,
                                              plot_trajectories)
from polycode_utils.spectra import FIT_METHODS
from polycode_utils.stimuli import moving_dot
from polycode_utils.training import dropout_grid, load_networks, resolve_device

# %% tags=["remove-cell"]
IMAGE_SIZE = 32                 # the networks' input size: the stimulus canvas
set_style()
# Every choice is checked before anything is loaded (a bad value stops here, naming the parameter).
configs = dropout_grid(dropout_rates, seed=seed, dataset=dataset, width=width, latent_dim=latent_dim, epochs=epochs,
                       n_images=n_patches, batch_size=batch_size, lr=lr)
layers_used = check_layers(layers)
show = shown_network(show_dropout, dropout_rates)
check_choice(normalise, "normalise", NORMALISATIONS)
check_choice(fit_method, "fit_method", FIT_METHODS)
resolve_device(device)
frames = moving_dot(n_frames, size=IMAGE_SIZE, radius=radius, dot_radius=dot_radius)
eval_data = evaluation_images(dataset, n_eval_images, seed=seed, root=data_dir())

# %% tags=["remove-input"]
provenance_box(profile=profile,
               data=f"a white dot (radius {dot_radius:g} px) moving once round a circle of radius {radius:g} px on a "
                    f"black {IMAGE_SIZE}x{IMAGE_SIZE} canvas, {n_frames} frames (ours: the sources give no sizes); "
                    f"for alpha, the held-out evaluation images of chapter 5: {eval_data.description.summary()}",
               model=f"the chapter-4 autoencoders (base width {width}, latent {latent_dim}, {epochs} epochs on "
                     f"{n_patches} images), one per dropout rate, BatchNorm statistics {batchnorm.replace('_', ' ')}",
               embedded_default=dataset == "patches",
               parameters=dict(seed=seed, dataset=dataset, dropout_rates=dropout_rates, width=width,
                               latent_dim=latent_dim, epochs=epochs, n_patches=n_patches, batch_size=batch_size,
                               lr=lr, device=device, layers=layers, n_frames=n_frames, radius=radius,
                               dot_radius=dot_radius, n_projections=n_projections, k=k, show_dropout=show_dropout,
                               normalise=normalise, n_eval_images=n_eval_images, fit_range=fit_range,
                               fit_method=fit_method, batchnorm=batchnorm))

# %% [markdown]
# An eigenspectrum (chapter 5) says how a layer spreads its variance over dimensions, not how its activity moves
# when the input moves a little. The paper {cite}`marshall2024polysemanticity` asks the second question directly.
# Feed the network a stimulus with one degree of freedom, a dot going once round a circle, and follow the layer's
# activity $a_t \in \mathbb{R}^m$ frame by frame. A smooth code traces a smooth closed curve; a code that
# scrambles nearby inputs (a "hash") jumps about. The curve lives in $m$ dimensions, so the paper looks at it
# through **random projections** $z_t = R^\top a_t$, $R \in \mathbb{R}^{m \times k}$ with entries
# $\mathcal N(0, 1/m)$ and $k = 3$, and measures the roughness of each projected trajectory by its **action**
# $A = \tfrac12 \sum_t \lVert z_{t+1} - z_t \rVert^2$ (both from the paper and its note).
#
# Two facts make the action easy to read. First, it needs no sampling to be predicted: for any trajectory,
# $\mathbb{E}_R\, \lVert R^\top v \rVert^2 = \tfrac{k}{m} \lVert v \rVert^2$, so the mean action over random
# projections is exactly $\tfrac{k}{m} \cdot \tfrac12 \sum_t \lVert a_{t+1} - a_t \rVert^2$; the random
# projections show its spread and what single trajectories look like. Second, Stringer et al.
# {cite}`stringer2019high` proved that a code for a $d$-dimensional stimulus can only be smooth if its eigenspectrum
# decays faster than $n^{-(1 + 2/d)}$: $\alpha < -3$ for our dot ($d = 1$), $\alpha < -1$ for the high-dimensional
# natural images of chapter 5.
#
# Two choices are ours. The loop is closed: the step from the last frame back to the first counts too, since the
# dot's path is a circle. And with `normalise = "variance"` (the default) each layer's activity is rescaled so that
# its units vary by 1 on average over the frames, so that the action compares layers of any width and scale: then a
# curve that goes once round a circle in a plane has action $2kT\sin^2(\pi/T)$ = {glue:text}`a_circle:.3f`, and
# frames drawn independently at random have action $kT$ = {glue:text}`a_iid:.0f` on average. With `"none"`, the
# raw activations enter, as in the paper's definition.

# %% tags=["remove-cell"]
glue_values(dict(a_circle=circle_action(k, n_frames), a_iid=iid_action(k, n_frames), n_frames=int(n_frames),
                 n_projections=int(n_projections), k=int(k)))

# %% [markdown]
# ## The stimulus (Fig. 4a)

# %% tags=["hide-input"]
glue_values(dict(fig4a=plot_dot_frames(frames, n_show=10), n_show_frames=int(min(10, n_frames))))

# %% [markdown]
# ```{glue:figure} fig4a
# :name: fig-5-stimulus
#
# **Fig. 4a, regenerated: the moving dot**, {glue:text}`n_show_frames` of its {glue:text}`n_frames` frames;
# frame $t$ shows the dot at angle $2\pi t/T$. The stimulus is the paper's; canvas, radius, dot size and $T$ are
# ours (parameters). The dot's edge is anti-aliased, so the image changes continuously between frames.
# ```
#
# ## Trajectories
#
# Every network of chapter 4 sees the {glue:text}`n_frames` frames in eval mode (dropout off, $z = \mu$); at
# every depth we project the activity on {glue:text}`n_projections` random {glue:text}`k`-dimensional
# projections (the same random draws at every depth of the same width) and compute the actions. For the
# comparison with chapter 5, the same call as chapter 5 re-measures $\alpha$ on its held-out images with the same
# fit range and method (without the bootstrap), and we also measure $\alpha$ of the dot's own responses: the
# eigenspectrum of the {glue:text}`n_frames` frames at each layer.

# %%
networks = load_networks(configs, **network_store(), device=device, batchnorm=batchnorm)
actions, natural = [], []
for net in tqdm(networks, desc="networks"):
    actions.append(dot_actions(net.model, frames, layers_used, n_projections=n_projections, k=k, seed=seed,
                               normalise=normalise, fit_range=fit_range, method=fit_method))
    natural.append(layer_spectra(net.model, eval_data.images, layers_used, fit_range=fit_range, method=fit_method,
                                 n_bootstrap=0, seed=seed))

# %% tags=["hide-input"]
glue_values(dict(fig4b=plot_trajectories(actions[show]), show_dropout=float(show_dropout)))

# %% [markdown]
# ```{glue:figure} fig4b
# :name: fig-5-trajectories
#
# **Fig. 4b, regenerated: one random 3-D projection of each layer's trajectory** in the network trained at
# $p =$ {glue:text}`show_dropout:g`, coloured by time round the loop (the colour map is cyclic: the first and last
# frames share a colour). Inset: the layer's mean activation over units and frames (as in the paper) and the
# action of this projection. The projection and the layout are the paper's; the network and the stimulus sizes are
# ours. Axes are not comparable between panels.
# ```
#
# ## Action against depth (Fig. 4c)

# %% tags=["remove-cell"]
mean_action = depth_table(actions, dropout_rates, lambda r: r.mean)
glue_values(dict(action_table=mean_action.style.format("{:.3g}")))
for part in (monte_carlo_gap(actions), action_order(mean_action, rate_label(dropout_rates[show])),
             noise_like_layers(mean_action, k=k, n_frames=n_frames, normalise=normalise)):
    glue_values(vars(part))

# %% tags=["hide-input"]
glue_values(dict(fig4c=plot_action_by_depth(actions, dropout_rates, k=k, n_frames=n_frames,
                                            normalised=normalise == "variance")))

# %% [markdown]
# ```{glue:figure} fig4c
# :name: fig-5-action-depth
#
# **Fig. 4c, regenerated: mean action of {glue:text}`n_projections` random projections against depth**, one line
# per network (points spread sideways), error bars ±1 standard deviation over projections (the spread of single
# projections; the standard error of the mean is 1/√{glue:text}`n_projections` of it). Crosses: the exact mean
# over all projections, $\frac{k}{m}\cdot\frac12\sum_t\lVert a_{t+1}-a_t\rVert^2$. Grey lines (with
# `normalise = "variance"`): the action of frames drawn independently (dotted) and of a plane circle (dashed).
# Log scale. The quantity and the layout are the paper's; the normalisation, the reference lines and the networks
# are ours.
# ```
#
# Against the theory: the mean over the random projections is within {glue:text}`mc_max_rel_pct:.1f` % of the
# exact value for every layer (at most {glue:text}`mc_max_sem:.1f` standard errors away). The mean action
# {glue:text}`action_direction` (Spearman correlation with depth between {glue:text}`rho_depth_min:.2f` and
# {glue:text}`rho_depth_max:.2f`). In the network at $p =$ {glue:text}`show_dropout:g` it goes from
# {glue:text}`action_first:.3g` at {glue:text}`action_first_layer` to {glue:text}`action_last:.3g` at
# {glue:text}`action_last_layer`; its smoothest layer is {glue:text}`show_min_layer`
# ({glue:text}`show_min_action:.3g`) and its roughest {glue:text}`show_max_layer`
# ({glue:text}`show_max_action:.3g`). Over all networks and layers the mean action lies between
# {glue:text}`overall_min:.3g` and {glue:text}`overall_max:.3g`. A layer whose action exceeds
# {glue:text}`half_iid:.0f`, half that of independently drawn frames, follows the dot about as smoothly as noise
# would: its responses to neighbouring frames are barely more alike than to any two frames. There are
# {glue:text}`n_noise_like` such layer-network pairs: {glue:text}`noise_text`.
#
# ```{glue:} action_table
# ```
#
# **Mean action by depth (rows) and dropout rate (columns)**, over {glue:text}`n_projections` projections (ours).
#
# ## Action against the exponent (Fig. 4d)

# %% tags=["remove-cell"]
alpha_nat = depth_table(natural, dropout_rates, lambda s: s.alpha)
alpha_dot = depth_table(actions, dropout_rates, lambda r: r.dot_alpha)
for part in (action_alpha(mean_action, alpha_nat, alpha_dot), stringer_check(mean_action, alpha_dot, d=1)):
    glue_values(vars(part))
glue_values(dict(dot_fit_last=last_dot_pc(actions)))

# %% tags=["hide-input"]
sem = depth_table(actions, dropout_rates, lambda r: r.sem)
glue_values(dict(fig4d=plot_action_against_alpha(mean_action, sem, alpha_nat, alpha_dot, d=1,
                                                 highlight=rate_label(dropout_rates[show]))))

# %% [markdown]
# ```{glue:figure} fig4d
# :name: fig-5-action-alpha
#
# **Fig. 4d, regenerated, and a companion (ours).** Mean action of each layer of each network (colour: dropout
# rate; labels: the layers of the network at $p =$ {glue:text}`show_dropout:g`; error bars: standard error over
# projections) against (d) the exponent $\alpha$ of the layer on natural images, measured as in chapter 5, with the
# line $\alpha = -1$, Stringer's bound for a high-dimensional stimulus; (e) the exponent of the layer's responses
# to the dot itself (PCs 1 to at most {glue:text}`dot_fit_last` of the {glue:text}`n_frames` frames), with the bound
# $\alpha = -3$ that applies to a one-dimensional stimulus. Panel d is the paper's comparison; panel e and all
# values are ours.
# ```
#
# On natural images the {glue:text}`n_points` layers have $\alpha$ between {glue:text}`nat_alpha_min:.2f` and
# {glue:text}`nat_alpha_max:.2f`; the Spearman correlation of their mean action with that $\alpha$ is
# {glue:text}`rho_nat:.2f` (positive: steeper spectra, smoother trajectories). Panel e asks the question the
# theory is about: the dot is a one-dimensional stimulus, so a layer's responses to it can only be smooth if their
# own spectrum decays faster than $n^{-3}$. Their exponents lie between {glue:text}`dot_alpha_min:.2f` and
# {glue:text}`dot_alpha_max:.2f`, {glue:text}`n_dot_below` of {glue:text}`n_dot` below $-3$, and the correlation
# of action with this exponent is {glue:text}`rho_dot:.2f`: {glue:text}`bound_text`. The bound is a necessary
# condition, not a sufficient one, and our fits over at most {glue:text}`dot_fit_last` PCs of {glue:text}`n_frames`
# frames are rough.
#
# ```{admonition} The paper's and ours in this chapter
# :class: note
# **The paper's:** the moving-dot stimulus, random projections with entries $\mathcal N(0, 1/m)$, 1000
# projections per layer, the action $\frac12\sum_t\lVert z_{t+1}-z_t\rVert^2$, and the comparisons of Fig. 4
# (trajectories, action by depth, action against $\alpha$).
# **Ours:** the stimulus sizes, the closed loop, the normalisation of each layer's activity, the exact mean action
# drawn as theory, the reference lines, the exponent of the dot responses and its comparison with Stringer's
# bound (panel e), the networks (chapter 4) and every number on this page.
# ```
