"""Sketches and learners: our code over library internals against the libraries' public APIs.

Run: ``.venv/bin/python -m bench.sketch_codec [--repeat N]``; writes
``bench/results/sketch_codec.md``. Each row times one operation at a size the worker meets
(best of ``--repeat``, microseconds per call) on the path the product takes ("ours") and on
the library's public API ("public"). The rule of the house: the public API is used unless it
costs more than 2x; where ours stays, the row says why. The ddsketch protobuf rows need the
optional ``protobuf`` package and say so when it is absent.
"""

from __future__ import annotations

import random
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
from datasketch import HyperLogLogPlusPlus
from ddsketch import DDSketch

from stream.learning.biased_mf import predict_grid
from stream.learning.learners import make_model
from stream.sketches import hll
from stream.sketches.quantiles import RELATIVE_ACCURACY, Quantiles
from stream.sketches.uniques import EXACT_LIMIT, HLL_P, Uniques

RESULTS = Path(__file__).parent / "results" / "sketch_codec.md"
VALUES = 1000  # page-load times in one vitals/forms sketch of a busy page-day
USERS, ITEMS = 30, 60  # visitors of one bundle x pages of the catalogue


def _best(fn: Callable[[], object], repeat: int) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat, number)) / number * 1e6


def _lognormal(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(7.8, 0.6) for _ in range(VALUES)]  # median ~2.4 s


def _quantile_rows(repeat: int) -> list[tuple[str, float, float | None, str]]:
    a_vals, b_vals = _lognormal(1), _lognormal(2)
    ours_a, ours_b = Quantiles(), Quantiles()
    pub_a, pub_b = DDSketch(RELATIVE_ACCURACY), DDSketch(RELATIVE_ACCURACY)
    for v in a_vals:
        ours_a.add(v)
        pub_a.add(v)
    for v in b_vals:
        ours_b.add(v)
        pub_b.add(v)

    ours_t, pub_t = Quantiles(), DDSketch(RELATIVE_ACCURACY)  # grown by the add row only

    def pub_merge() -> None:
        out = DDSketch(RELATIVE_ACCURACY)
        out.merge(pub_a)  # into an empty sketch: ddsketch's public copy
        out.merge(pub_b)

    rows = [
        ("quantiles: add 1,000 values", _best(lambda: [ours_t.add(v) for v in b_vals], repeat),
         _best(lambda: [pub_t.add(v) for v in b_vals], repeat), "ours is the public `add`"),
        ("quantiles: merge two (new sketch)", _best(lambda: ours_a.merge(ours_b), repeat),
         _best(pub_merge, repeat), "ours is now the public `merge` (was a slice merge)"),
    ]  # fmt: skip
    try:
        from ddsketch.pb import ddsketch_pb2
        from ddsketch.pb.proto import DDSketchProto
    except ImportError:
        missing = "ddsketch's protobuf serialisation needs `protobuf`, not installed"
        rows.append(("quantiles: encode", _best(ours_a.to_bytes, repeat), None, missing))
        return rows
    data, proto = ours_a.to_bytes(), DDSketchProto.to_proto(pub_a).SerializeToString()
    rows += [
        ("quantiles: encode", _best(ours_a.to_bytes, repeat),
         _best(lambda: DDSketchProto.to_proto(pub_a).SerializeToString(), repeat),
         f"{len(data)} B ours, {len(proto)} B protobuf"),
        ("quantiles: decode", _best(lambda: Quantiles.from_bytes(data), repeat),
         _best(lambda: DDSketchProto.from_proto(ddsketch_pb2.DDSketch.FromString(proto)), repeat),
         ""),
    ]  # fmt: skip
    return rows


def _identity(value: int) -> int:
    return value


def _uniques_rows(repeat: int) -> list[tuple[str, float, float | None, str]]:
    rng = random.Random(3)
    keys = {rng.getrandbits(64) for _ in range(EXACT_LIMIT)}
    full = Uniques()
    for k in keys:
        full.add(k)
    full.add(rng.getrandbits(64))  # one past the limit: now an HLL
    sketch = HyperLogLogPlusPlus(p=HLL_P, hashfunc=_identity)

    def pub_fold() -> None:
        h = HyperLogLogPlusPlus(p=HLL_P, hashfunc=_identity)
        for k in keys:
            h.update(k)

    def ours_fold() -> None:
        hll.fold(HyperLogLogPlusPlus(p=HLL_P, hashfunc=_identity), keys)

    def pub_encode() -> bytes:
        buf = bytearray(sketch.bytesize())
        sketch.serialize(buf)
        return bytes(buf)

    data, serialised = full.to_bytes(), pub_encode()

    def pub_decode() -> Any:
        # deserialize() forgets the hash function, so the sketch is rebuilt around ours.
        return HyperLogLogPlusPlus(
            reg=HyperLogLogPlusPlus.deserialize(serialised).digest(), hashfunc=_identity
        )

    return [
        (f"uniques: fold {EXACT_LIMIT:,} exact keys into an HLL", _best(ours_fold, repeat),
         _best(pub_fold, repeat), "ours: registers by numpy, merged with the public `merge`"),
        ("uniques: encode HLL", _best(full.to_bytes, repeat), _best(pub_encode, repeat),
         "ours: public `digest()` as int8 bytes; public: `serialize()`"),
        ("uniques: decode HLL", _best(lambda: Uniques.from_bytes(data), repeat),
         _best(pub_decode, repeat), "ours: public `reg=` constructor; public: `deserialize()`"),
    ]  # fmt: skip


def _reco_rows(repeat: int) -> list[tuple[str, float, float | None, str]]:
    model = make_model("recommender")
    rng = random.Random(4)
    users = [f"visitor-{n}" for n in range(USERS)]
    items = [f"/page/{n}" for n in range(ITEMS)]
    for _ in range(5000):
        model.learn_one(rng.choice(users), rng.choice(items), rng.random() * 3)

    def public() -> np.ndarray:
        return np.array([[model.predict_one(u, i) for i in items] for u in users])

    assert np.allclose(predict_grid(model, users, items), public())
    return [
        (f"recommender: score {USERS} visitors x {ITEMS} pages",
         _best(lambda: predict_grid(model, users, items), repeat), _best(public, repeat),
         "ours: one matrix product over BiasedMF's weights; public: `predict_one` per pair"),
    ]  # fmt: skip


def render(rows: list[tuple[str, float, float | None, str]]) -> str:
    """The results table in Markdown."""
    lines = [
        "# Sketch and learner codecs: ours vs the libraries' public APIs",
        "",
        "`python -m bench.sketch_codec`; microseconds per call, best of the repeats.",
        "",
        "| operation | ours (µs) | public (µs) | public / ours | note |",
        "|---|---:|---:|---:|---|",
    ]
    for name, ours, public, note in rows:
        if public is None:
            lines.append(f"| {name} | {ours:,.1f} | - | - | {note} |")
        else:
            lines.append(
                f"| {name} | {ours:,.1f} | {public:,.1f} | {public / ours:.2f}x | {note} |"
            )
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--repeat", default=5, show_default=True, help="Timing repeats per row.")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(repeat: int, out: Path) -> None:
    """Time every row and write the Markdown table."""
    rows = _quantile_rows(repeat) + _uniques_rows(repeat) + _reco_rows(repeat)
    text = render(rows)
    out.write_text(text, encoding="utf-8")
    click.echo(text)


if __name__ == "__main__":
    main()
