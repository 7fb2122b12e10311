"""The offline explain-and-score (language.explain) on units whose answer is known."""

import numpy as np
import pytest
import torch

from polycode_utils.networks.language.explain import TokenTables, explain_and_score


def _planted(seed=0, n_windows=60, context=40, vocab=50, width=6):
    """Windows of random tokens; unit 0 is the indicator of token 7, units 1.. are Gaussian noise."""
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab, (n_windows, context), generator=gen)
    act = torch.randn(n_windows, context, width, generator=gen)
    act[..., 0] = (tokens == 7).float()
    tables = TokenTables.empty(tokens, width)
    for start in range(0, n_windows, 16):   # in batches, as the measurement streams them
        rows = torch.arange(start, min(start + 16, n_windows))
        tables.update(act[rows], tokens[rows], rows)
    return tokens, act, tables


def test_a_planted_token_detector_scores_near_one_and_noise_near_zero():
    _, _, tables = _planted()
    result = explain_and_score(tables, n_tokens=5)
    assert result.scores[0] > 0.99
    assert 7 in result.tokens[0]
    assert np.abs(result.scores[1:]).max() < 0.15


def test_scores_equal_the_correlation_computed_token_by_token():
    tokens, act, tables = _planted(seed=1)
    gen = torch.Generator().manual_seed(2)
    directions = torch.randn(act.shape[2], 4, generator=gen, dtype=torch.float64)
    result = explain_and_score(tables, directions, n_tokens=3, min_count=2)
    values = (act.double() @ directions).numpy()              # (windows, T, units)
    explain, held = values[0::2], values[1::2]
    tok_a, tok_b = tokens[0::2].numpy(), tokens[1::2].numpy()
    for j in range(directions.shape[1]):
        mu = explain[..., j].mean()
        means = {t: explain[..., j][tok_a == t].mean() for t in np.unique(tok_a) if (tok_a == t).sum() >= 2}
        chosen = sorted(means, key=lambda t: -abs(means[t] - mu))[:3]
        assert set(chosen) == set(result.tokens[j])
        predicted = np.array([means.get(t, mu) for t in tok_b.ravel()]).reshape(tok_b.shape)
        sim = np.where(np.isin(tok_b, chosen), predicted, mu)
        expected = np.corrcoef(sim.ravel(), held[..., j].ravel())[0, 1]
        assert result.scores[j] == pytest.approx(expected, abs=1e-6)  # float32 second moments


def test_bad_directions_are_refused():
    _, _, tables = _planted()
    with pytest.raises(ValueError, match="directions"):
        explain_and_score(tables, np.ones((5, 2)))
    with pytest.raises(ValueError, match="n_tokens"):
        explain_and_score(tables, n_tokens=0)


def test_score_frame_scores_every_unit_of_the_explained_sites():
    from polycode_utils.networks.language import (layer_scores, load_language_model, measure_runs, score_frame)  # noqa: PLC0415

    lm = load_language_model("tiny-gpt2", device="cpu")
    gen = torch.Generator().manual_seed(0)
    windows = torch.randint(0, 200, (8, 16), generator=gen)
    runs = measure_runs(lm, windows, controls=["untrained"], control_stride=2, n_projections=7, top_k=2,
                        progress=False)
    scored = {"mlp.0", "mlp.2", f"mlp.{lm.n_layers - 1}"}   # every second layer and the last
    assert set(runs["main"].tables) == set(runs["untrained"].tables) == scored
    frame = score_frame(runs, n_tokens=3, min_count=1, n_pca=5)
    width = runs["main"].tables["mlp.0"].width
    counts = frame.groupby(["run", "site", "unit"]).size()
    assert counts[("main", "mlp.0", "neuron")] == width and counts[("untrained", "mlp.2", "projection")] == 7
    assert counts[("main", "mlp.0", "pca")] == 5 and frame.score.between(-1, 1).all()
    layers = layer_scores(frame)
    assert len(layers) == 2 * len(scored) * 3 and (layers.units > 0).all()
    neurons = frame[(frame.run == "main") & (frame.site == "mlp.0") & (frame.unit == "neuron")].score.to_numpy()
    np.testing.assert_allclose(neurons, explain_and_score(runs["main"].tables["mlp.0"], None, 3, 1).scores)
    assert not measure_runs(lm, windows, controls=[], explain=False, top_k=0, progress=False)["main"].tables
