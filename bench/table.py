"""Result rows, targets and the printed table."""

from __future__ import annotations

from dataclasses import dataclass

from bench.live import LiveResult

# Targets printed next to the measurements.
TARGET_OCR_RATIO = 1.0
TARGET_OCR_ACCURACY = 0.95
TARGET_DOCS_PER_S = 20.0
TARGET_TTS_P95 = 2.0


# ----------------------------------------------------------------------------- table

@dataclass
class Row:
    name: str
    value: str
    target: str = ""
    met: str = ""


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def print_table(rows: list[Row], markdown: bool) -> None:
    headers = ("Measurement", "Value", "Target", "Met")
    cells = [(r.name, r.value, r.target, r.met) for r in rows]
    if markdown:
        print("| " + " | ".join(headers) + " |")
        print("|" + "|".join(["---", "---", "---", ":-:"]) + "|")
        for cell in cells:
            print("| " + " | ".join(c.replace("|", "\\|") for c in cell) + " |")
        return
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for cell in cells:
        print("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)))


def live_rows(label: str, result: LiveResult, docs: int, clients: int, tts_docs: int,
              throughput_target: bool = True) -> list[Row]:
    """Throughput and time-to-searchable rows. The docs/s target applies to embedded defaults only; without
    ``throughput_target`` (scale-out) the throughput is reported with no target and an empty Met column."""
    target = f">= {TARGET_DOCS_PER_S:.0f} docs/s" if throughput_target else "reported (no target)"
    if result.docs_per_s is None:
        return [Row(f"Born-digital upload -> searchable, {label}", result.error or "n/a", target,
                    "n/a" if throughput_target else "")]
    met = verdict(result.docs_per_s >= TARGET_DOCS_PER_S) if throughput_target else ""
    rows = [Row(f"Born-digital upload -> searchable, {label} ({docs} docs, {clients} clients)",
                f"{result.docs_per_s:.1f} docs/s ({result.throughput_seconds:.1f} s)", target, met)]
    if result.tts and len(result.tts) == tts_docs:
        p50, p95 = percentile(result.tts, 0.5), percentile(result.tts, 0.95)
        rows.append(Row(f"Time to searchable, {label} ({tts_docs} docs one at a time)",
                        f"p50 {p50:.2f} s, p95 {p95:.2f} s (max {max(result.tts):.2f} s)",
                        f"p95 < {TARGET_TTS_P95:.0f} s", verdict(p95 < TARGET_TTS_P95)))
    else:
        rows.append(Row(f"Time to searchable, {label}", result.error or "n/a", f"p95 < {TARGET_TTS_P95:.0f} s",
                        "n/a"))
    return rows
