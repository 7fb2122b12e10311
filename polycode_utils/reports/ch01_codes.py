"""Chapter 1's verdicts on Fig. 1c: D* against the optimal code's D_opt, and the sticky plateau against a smooth
curve (claims.count_verdict), with their results rows."""

from __future__ import annotations

import numpy as np

from polycode_utils.theory.claims import count_verdict
from polycode_utils.theory.codes import entropy_at_flip
from polycode_utils.reports.results import claim_values
from polycode_utils.theory.toy_models import OptimumComparison, StickyPlateau

STICKY_MARGIN = 2  # the plateau must be this many sparsities longer than the smooth curve's [ours]


def fig1c_claims(comparison: OptimumComparison, d_star: np.ndarray, d_opt: np.ndarray, sparsities: np.ndarray,
                 plateau: StickyPlateau, smooth: StickyPlateau, bits_per_value: float) -> dict[str, object]:
    """Fig. 1c's two claims: D* >= D_opt where the m/n floor does not force it (the closed form at H_elem
    bits_per_value is the comparison), and D* lingering near a sticky fraction longer than a smooth curve does."""
    n_tested = len(sparsities) - comparison.n_forced
    inv_density = 1.0 / (1.0 - np.asarray(sparsities))
    above = count_verdict(
        "fig1c", comparison.n_above_tested, max(1, n_tested), testable=n_tested > 0, why_not="D_opt lies below the "
        "m/n floor at every sparsity", cases="sparsities where the m/n floor does not force it",
        measured=f"D* from {d_star[0]:.3f} (dense) to {d_star[-1]:.3f} at 1/(1-S) = {inv_density[-1]:.0f}, against "
                 f"D_opt {d_opt[-1]:.3f} there; {comparison.n_forced} sparsities forced by the floor, left out",
        holds="the trained D* lies on or above D_opt",
        control=f"D_opt, a closed form at H_elem = {bits_per_value:g} bits (ours); it holds everywhere from "
                f"H_elem = {entropy_at_flip(sparsities, d_star):.1f} bits up")
    sticky = count_verdict(
        "fig1c_sticky", int(plateau.length >= smooth.length + STICKY_MARGIN), 1, cases="run (one seed)",
        measured=f"longest plateau: {plateau.length} sparsities near {plateau.fraction}; the smooth curve's: "
                 f"{smooth.length}", holds=f"D* lingers near a sticky fraction for at least {STICKY_MARGIN} "
        "sparsities longer than a smooth curve through the same points",
        control="a cubic in log 1/(1-S) fitted to the same D* (ours)")
    return {**claim_values(above, "Fig. 1c", r"Toy models of superposition use more dimensions per feature than an "
                           r"optimal code, $D^* \ge D_\mathrm{opt}$"),
            **claim_values(sticky, "Fig. 1c", r"... and $D^*$ lingers on the sticky fractions as it falls"),
            "n_tested": n_tested, "sticky_margin": STICKY_MARGIN}
