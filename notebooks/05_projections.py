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
dataset = "patches"
dropout_rates = [0.0, 0.2, 0.4, 0.6, 0.8]
width = 8
latent_dim = 32
epochs = 4
n_patches = 3000
batch_size = 50
lr = 0.001
device = "auto"
layers = ["stem", "layer1", "layer2", "layer3", "layer4", "pooled", "fc1", "fc2", "mu"]
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

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from myst_nb import glue
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from polycode_utils.activations import record_activations
from polycode_utils.book.page import provenance_box, set_style
from polycode_utils.book.paths import data_dir, network_store
from polycode_utils.data import evaluation_images
from polycode_utils.layerwise import NORMALISATIONS, dot_actions, layer_spectra
from polycode_utils.models import check_layers
from polycode_utils.spectra import FIT_METHODS
from polycode_utils.stimuli import moving_dot
from polycode_utils.training import dropout_grid, load_networks, resolve_device

IMAGE_SIZE = 32                 # the networks' input size: the stimulus canvas

set_style()
# Every choice is checked before anything is loaded (a bad value stops here, naming the parameter).
configs = dropout_grid(dropout_rates, seed=seed, dataset=dataset, width=width, latent_dim=latent_dim, epochs=epochs,
                       n_images=n_patches, batch_size=batch_size, lr=lr)
layers_used = check_layers(layers)
if show_dropout not in [float(p) for p in dropout_rates]:
    raise ValueError(f"show_dropout: must be one of the dropout_rates {dropout_rates}, got {show_dropout!r}")
if normalise not in NORMALISATIONS:
    raise ValueError(f"normalise: must be one of {', '.join(NORMALISATIONS)}, got {normalise!r}")
if fit_method not in FIT_METHODS:
    raise ValueError(f"fit_method: must be one of {', '.join(FIT_METHODS)}, got {fit_method!r}")
resolve_device(device)
frames = moving_dot(n_frames, size=IMAGE_SIZE, radius=radius, dot_radius=dot_radius)
eval_data = evaluation_images(dataset, n_eval_images, seed=seed, root=data_dir())
provenance_box(profile=profile,
               data=f"a white dot (radius {dot_radius:g} px) moving once round a circle of radius {radius:g} px on a "
                    f"black {IMAGE_SIZE}x{IMAGE_SIZE} canvas, {n_frames} frames (ours: the sources give no sizes); "
                    f"for alpha, the held-out evaluation images of chapter 4: {eval_data.description.summary()}",
               model=f"the chapter-3 autoencoders (base width {width}, latent {latent_dim}, {epochs} epochs on "
                     f"{n_patches} images), one per dropout rate, BatchNorm statistics {batchnorm.replace('_', ' ')}",
               embedded_default=dataset == "patches",
               parameters=dict(seed=seed, dataset=dataset, dropout_rates=dropout_rates, width=width,
                               latent_dim=latent_dim, epochs=epochs, n_patches=n_patches, batch_size=batch_size,
                               lr=lr, device=device, layers=layers, n_frames=n_frames, radius=radius,
                               dot_radius=dot_radius, n_projections=n_projections, k=k, show_dropout=show_dropout,
                               normalise=normalise, n_eval_images=n_eval_images, fit_range=fit_range,
                               fit_method=fit_method, batchnorm=batchnorm))

# %% [markdown]
# An eigenspectrum (chapter 4) says how a layer spreads its variance over dimensions, not how its activity moves
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
# natural images of chapter 4.
#
# Two choices are ours. The loop is closed: the step from the last frame back to the first counts too, since the
# dot's path is a circle. And with `normalise = "variance"` (the default) each layer's activity is rescaled so that
# its units vary by 1 on average over the frames, so that the action compares layers of any width and scale: then a
# curve that goes once round a circle in a plane has action $2kT\sin^2(\pi/T)$ = {glue:text}`a_circle:.3f`, and
# frames drawn independently at random have action $kT$ = {glue:text}`a_iid:.0f` on average. With `"none"`, the
# raw activations enter, as in the paper's definition.

# %% tags=["remove-cell"]
glue("a_circle", float(2 * k * n_frames * np.sin(np.pi / n_frames) ** 2), display=False)
glue("a_iid", float(k * n_frames), display=False)
glue("n_frames", int(n_frames), display=False)
glue("n_projections", int(n_projections), display=False)
glue("k", int(k), display=False)

# %% [markdown]
# ## The stimulus (Fig. 4a)

# %% tags=["hide-input"]
n_show = min(10, n_frames)
pick = np.linspace(0, n_frames, n_show, endpoint=False).astype(int)
fig4a, axes = plt.subplots(1, n_show, figsize=(1.0 * n_show, 1.25))
for ax, t in zip(np.atleast_1d(axes), pick):
    ax.imshow(frames[t].transpose(1, 2, 0), interpolation="nearest")
    ax.set_title(f"t = {t}", fontsize="x-small")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
fig4a.subplots_adjust(wspace=0.08, left=0.01, right=0.99, top=0.82, bottom=0.02)
glue("fig4a", fig4a, display=False)
plt.close(fig4a)
glue("n_show_frames", int(n_show), display=False)

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
# Every network of chapter 3 sees the {glue:text}`n_frames` frames in eval mode (dropout off, $z = \mu$); at
# every depth we project the activity on {glue:text}`n_projections` random {glue:text}`k`-dimensional
# projections (the same random draws at every depth of the same width) and compute the actions. For the
# comparison with chapter 4, the same call as chapter 4 re-measures $\alpha$ on its held-out images with the same
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
show = [float(p) for p in dropout_rates].index(float(show_dropout))
raw_mean = {name: float(np.mean(v)) for name, v in
            record_activations(networks[show].model, frames, layers_used).items()}
ncols = 3
nrows = int(np.ceil(len(layers_used) / ncols))
fig4b = plt.figure(figsize=(3.3 * ncols, 3.1 * nrows))
depth_colors = dict(zip(layers_used, sns.color_palette("viridis", len(layers_used))))
time_colors = plt.cm.twilight(np.linspace(0, 1, n_frames, endpoint=False))
for i, name in enumerate(layers_used):
    res = actions[show][name]
    z = res.trajectories[0]
    ax = fig4b.add_subplot(nrows, ncols, i + 1, projection="3d")
    closed = np.concatenate([z, z[:1]])
    for t in range(n_frames):
        ax.plot(*closed[t:t + 2].T, color=time_colors[t], lw=1.6)
    ax.scatter(*z.T, c=time_colors, s=6, depthshade=False)
    ax.set_title(f"{name} (m = {res.n_units})", color=depth_colors[name], fontsize="small", fontweight="bold")
    ax.text2D(0.02, 0.92, f"mean activation {raw_mean[name]:.2f}\naction {res.actions[0]:.3g}",
              transform=ax.transAxes, fontsize="x-small")
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_zticklabels([])
fig4b.tight_layout()
glue("fig4b", fig4b, display=False)
plt.close(fig4b)
glue("show_dropout", float(show_dropout), display=False)

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
p_labels = [f"p = {net.dropout:g}" for net in networks]
mean_action = pd.DataFrame({lab: {name: r.mean for name, r in acts.items()} for lab, acts in zip(p_labels, actions)})
mean_action.index.name = "depth"
theory = pd.DataFrame({lab: {name: r.expected for name, r in acts.items()} for lab, acts in zip(p_labels, actions)})
rel_dev = (mean_action - theory).abs() / theory
glue("mc_max_rel_pct", float(100 * rel_dev.to_numpy().max()), display=False)
sem_ratio = max(abs(r.mean - r.expected) / r.sem for acts in actions for r in acts.values() if r.sem > 0)
glue("mc_max_sem", float(sem_ratio), display=False)
glue("action_table", mean_action.style.format("{:.3g}"), display=False)
depth_index = np.arange(len(layers_used))
rho_depth = [spearmanr(depth_index, mean_action[lab]).statistic if len(layers_used) > 2 else np.nan
             for lab in p_labels]
glue("rho_depth_min", float(np.nanmin(rho_depth)), display=False)
glue("rho_depth_max", float(np.nanmax(rho_depth)), display=False)
show_lab = p_labels[show]
glue("show_min_layer", str(mean_action[show_lab].idxmin()), display=False)
glue("show_min_action", float(mean_action[show_lab].min()), display=False)
glue("show_max_layer", str(mean_action[show_lab].idxmax()), display=False)
glue("show_max_action", float(mean_action[show_lab].max()), display=False)
glue("action_first_layer", layers_used[0], display=False)
glue("action_last_layer", layers_used[-1], display=False)
glue("action_first", float(mean_action[show_lab].iloc[0]), display=False)
glue("action_last", float(mean_action[show_lab].iloc[-1]), display=False)
if np.all(np.array(rho_depth) > 0):
    action_direction = "rises with depth in every network"
elif np.all(np.array(rho_depth) < 0):
    action_direction = "falls with depth in every network"
else:
    action_direction = "is not ordered the same way by depth in every network"
glue("action_direction", action_direction, display=False)
noise_like = {lab: [name for name in layers_used
                    if normalise == "variance" and mean_action.loc[name, lab] > k * n_frames / 2] for lab in p_labels}
if normalise != "variance":
    noise_text = "(this comparison needs normalise = 'variance')"
elif any(noise_like.values()):
    noise_text = "; ".join(f"{lab}: {', '.join(names)}" for lab, names in noise_like.items()
                           if names)
else:
    noise_text = "none"
glue("noise_text", noise_text, display=False)
glue("n_noise_like", int(sum(len(v) for v in noise_like.values())), display=False)
glue("half_iid", float(k * n_frames / 2), display=False)
glue("overall_min", float(mean_action.to_numpy().min()), display=False)
glue("overall_max", float(mean_action.to_numpy().max()), display=False)

# %% tags=["hide-input"]
net_colors = sns.color_palette("flare", len(networks))
offsets = np.linspace(-0.2, 0.2, len(networks)) if len(networks) > 1 else [0.0]
fig4c, ax = plt.subplots(figsize=(7.5, 3.9))
for net, acts, color, off in zip(networks, actions, net_colors, offsets):
    m = np.array([r.mean for r in acts.values()])
    sd = np.array([r.sd for r in acts.values()])
    ax.errorbar(depth_index + off, m, yerr=sd, fmt="o-", color=color, ms=4, lw=1.2, capsize=2,
                label=f"p = {net.dropout:g}")
    ax.plot(depth_index + off, [r.expected for r in acts.values()], "x", color="k", ms=5)
if normalise == "variance":
    ax.axhline(k * n_frames, color="0.4", ls=":", lw=1)
    ax.axhline(2 * k * n_frames * np.sin(np.pi / n_frames) ** 2, color="0.4", ls="--", lw=1)
ax.set(yscale="log", xticks=depth_index, xticklabels=layers_used, xlabel="depth",
       ylabel="action" + (" (normalised)" if normalise == "variance" else ""))
handles, labels = ax.get_legend_handles_labels()
handles.append(plt.Line2D([], [], color="k", marker="x", ls="none", label="theory (k/m)·½·Σ‖Δa‖²"))
if normalise == "variance":
    handles.append(plt.Line2D([], [], color="0.4", ls=":", label="i.i.d. frames, $kT$"))
    handles.append(plt.Line2D([], [], color="0.4", ls="--", label=r"plane circle, $2kT\sin^2(\pi/T)$"))
ax.legend(handles=handles, fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
fig4c.tight_layout()
glue("fig4c", fig4c, display=False)
plt.close(fig4c)

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
alpha_nat = pd.DataFrame({lab: {name: s.alpha for name, s in spec.items()} for lab, spec in zip(p_labels, natural)})
alpha_dot = pd.DataFrame({lab: {name: (r.dot_fit.alpha if r.dot_fit is not None else np.nan)
                                for name, r in acts.items()} for lab, acts in zip(p_labels, actions)})
x_nat, x_dot, y = alpha_nat.to_numpy().ravel(), alpha_dot.to_numpy().ravel(), mean_action.to_numpy().ravel()
ok_dot = np.isfinite(x_dot)
glue("rho_nat", float(spearmanr(x_nat, y).statistic) if y.size > 2 else np.nan, display=False)
glue("rho_dot", float(spearmanr(x_dot[ok_dot], y[ok_dot]).statistic) if ok_dot.sum() > 2 else np.nan,
     display=False)
glue("n_points", int(y.size), display=False)
bound = -(1 + 2 / 1)
below = ok_dot & (x_dot < bound)
glue("n_dot_below", int(below.sum()), display=False)
glue("n_dot", int(ok_dot.sum()), display=False)
glue("median_action_below", float(np.median(y[below])) if below.any() else np.nan, display=False)
glue("median_action_above", float(np.median(y[ok_dot & ~below])) if (ok_dot & ~below).any() else np.nan,
     display=False)
glue("dot_alpha_min", float(np.nanmin(x_dot)), display=False)
glue("dot_alpha_max", float(np.nanmax(x_dot)), display=False)
glue("nat_alpha_min", float(x_nat.min()), display=False)
glue("nat_alpha_max", float(x_nat.max()), display=False)
dot_last = [r.dot_fit.fit_range[1] for acts in actions for r in acts.values() if r.dot_fit is not None]
glue("dot_fit_last", int(max(dot_last)) if dot_last else 0, display=False)
if not below.any():
    bound_text = "no layer's dot spectrum decays fast enough for a smooth code by Stringer's criterion"
elif below.all():
    bound_text = "every layer's dot spectrum decays fast enough for a smooth code by Stringer's criterion"
else:
    bound_text = ("the layers whose dot spectrum passes Stringer's criterion have a median action of "
                  f"{np.median(y[below]):.3g}, against {np.median(y[ok_dot & ~below]):.3g} for the others")
glue("bound_text", bound_text, display=False)

# %% tags=["hide-input"]
fig4d, (ax_d, ax_e) = plt.subplots(1, 2, figsize=(11, 3.9), sharey=True)
for net, lab, color in zip(networks, p_labels, net_colors):
    for ax, xs in ((ax_d, alpha_nat[lab]), (ax_e, alpha_dot[lab])):
        ax.errorbar(xs, mean_action[lab], yerr=[r.sem for r in actions[p_labels.index(lab)].values()], fmt="o",
                    color=color, ms=5, capsize=2, label=f"p = {net.dropout:g}")
        for name, xv, yv in zip(layers_used, xs, mean_action[lab]):
            if lab == p_labels[show] and np.isfinite(xv):
                ax.annotate(name, (xv, yv), fontsize=6, xytext=(3, 3), textcoords="offset points")
ax_d.axvline(-1, color="k", ls="--", lw=1, label=r"$\alpha = -1$ ($d \to \infty$)")
ax_e.axvline(bound, color="k", ls="--", lw=1, label=r"$\alpha = -(1 + 2/d) = -3$, $d = 1$")
ax_d.set(yscale="log", xlabel=r"$\alpha$ on natural images (chapter 4)", ylabel="mean action",
         title="(d) against the chapter-4 exponent")
ax_e.set(xlabel=r"$\alpha$ of the dot responses", title="(e) against the dot's own exponent (ours)")
ax_d.legend(fontsize="x-small")
ax_e.legend(fontsize="x-small")
fig4d.tight_layout()
glue("fig4d", fig4d, display=False)
plt.close(fig4d)

# %% [markdown]
# ```{glue:figure} fig4d
# :name: fig-5-action-alpha
#
# **Fig. 4d, regenerated, and a companion (ours).** Mean action of each layer of each network (colour: dropout
# rate; labels: the layers of the network at $p =$ {glue:text}`show_dropout:g`; error bars: standard error over
# projections) against (d) the exponent $\alpha$ of the layer on natural images, measured as in chapter 4, with the
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
# bound (panel e), the networks (chapter 3) and every number on this page.
# ```
