#!/usr/bin/env python3
"""Bar charts (PNG) and Markdown tables from the JSON results that bench/*.py write.

The input is kept generic, so that every driver can use it:
  * a list of records, or an object holding one under "results" (or "rows" / "records"), whose
    other top-level keys ("device", "date", "title", ...) describe the run; JSON Lines also work;
  * a record is one measured thing: {"case": "uc1-raw-warm", "what": "slidestream (cufile)",
    "seconds": 0.11, "gbps": 14.3, "ratio": 2.1, ...}. "case" groups bars into one chart,
    "what" labels a bar; every other numeric field is a metric that can be drawn. A record with
    "error" (or "failed") and no number is drawn as an empty bar labelled "failed".
  * bars of slidestream itself ("ours": true, or a "what" that starts with "slidestream") are
    coloured apart from the peers.

Usage (with the project venv, which has matplotlib):
  .venv/bin/python bench/plot.py results/uc1.json [more.json ...] [--out-dir bench/plots]
      [--metric seconds --metric gbps] [--markdown]
One PNG per (input file, case), with one panel per metric; --markdown also prints a table per
case, ready to paste into bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import re
import sys
from collections import OrderedDict

# Metrics drawn by default, in this order, when a record has them; others follow alphabetically.
PREFERRED_METRICS = ["seconds", "gbps", "ratio"]
METRIC_LABELS = {
    "seconds": "seconds (lower is better)",
    "gbps": "GB/s (higher is better)",
    "ratio": "ratio vs. peer (higher is better)",
}
# Numeric fields that describe a run rather than measure it.
NOT_METRICS = {"threads", "repeat", "repeats", "runs", "chunk", "tile", "level", "bytes",
               "width", "height", "run", "index", "n"}
RECORD_LIST_KEYS = ("results", "rows", "records")


def load(path: pathlib.Path) -> tuple[dict, list[dict]]:
    """Returns (run description, records) from one results file."""
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # JSON Lines: one record per line.
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    meta: dict = {}
    if isinstance(data, dict):
        key = next((k for k in RECORD_LIST_KEYS if isinstance(data.get(k), list)), None)
        if key is None:
            raise SystemExit(f"plot.py: {path}: no list under {RECORD_LIST_KEYS} and not a list")
        meta = {k: v for k, v in data.items() if k != key and not isinstance(v, (list, dict))}
        records = data[key]
    elif isinstance(data, list):
        records = data
    else:
        raise SystemExit(f"plot.py: {path}: expected a JSON list or object")
    bad = [r for r in records if not isinstance(r, dict)]
    if bad:
        raise SystemExit(f"plot.py: {path}: records must be objects, found {bad[0]!r}")
    return meta, records


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metrics_of(records: list[dict], wanted: list[str] | None) -> list[str]:
    present = {k for r in records for k, v in r.items() if is_number(v) and k not in NOT_METRICS}
    if wanted:
        return [m for m in wanted if m in present]
    ordered = [m for m in PREFERRED_METRICS if m in present]
    return ordered + sorted(present - set(ordered))


def label_of(record: dict, index: int) -> str:
    for key in ("what", "name", "tool", "peer"):
        if record.get(key):
            return str(record[key])
    return f"#{index}"


def labels_of(records: list[dict]) -> list[str]:
    """Bar labels; where several records share one, the descriptive fields that tell them apart
    (threads, slide, chunk, ...) are appended, so that no two bars look the same."""
    labels = [label_of(r, i) for i, r in enumerate(records)]
    for label in set(labels):
        same = [i for i, l in enumerate(labels) if l == label]
        if len(same) < 2:
            continue
        keys = sorted({k for i in same for k, v in records[i].items()
                       if k not in ("case", "what", "ours", "note", "error")
                       and not isinstance(v, (list, dict))
                       and (k in NOT_METRICS or not is_number(v))})
        differing = [k for k in keys if len({str(records[i].get(k)) for i in same}) > 1]
        for i in same:
            extra = ", ".join(f"{k}={records[i].get(k)}" for k in differing)
            labels[i] = f"{label} ({extra})" if extra else f"{label} #{same.index(i) + 1}"
    return labels


def one_line(text: str, limit: int = 140) -> str:
    """A note fit for one Markdown table cell."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_ours(record: dict) -> bool:
    if "ours" in record:
        return bool(record["ours"])
    return label_of(record, 0).lower().startswith("slidestream")


def group_by_case(records: list[dict]) -> "OrderedDict[str, list[dict]]":
    cases: OrderedDict[str, list[dict]] = OrderedDict()
    for record in records:
        cases.setdefault(str(record.get("case", "results")), []).append(record)
    return cases


def format_value(value) -> str:
    if not is_number(value):
        return "—"
    if 1000 <= abs(value) < 1e7:
        return f"{value:.0f}"
    return f"{value:.3g}"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "results"


def plot_case(case: str, records: list[dict], metrics: list[str], meta: dict,
              out: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on the build or GPU machines
    import matplotlib.pyplot as plt

    labels = labels_of(records)
    height = max(2.5, 0.45 * len(records) + 1.5)
    label_inches = 0.075 * max(len(label) for label in labels)  # room for the longest label
    fig, axes = plt.subplots(1, len(metrics), figsize=(label_inches + 4.5 * len(metrics), height),
                             sharey=True, squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        values = [r.get(metric) for r in records]
        drawn = [v if is_number(v) else 0.0 for v in values]
        colours = ["tab:orange" if is_ours(r) else "tab:blue" for r in records]
        y = list(range(len(records)))
        ax.barh(y, drawn, color=colours)
        ax.set_yticks(y, labels)
        if ax is axes[0][0]:
            ax.invert_yaxis()  # first record on top, as in the table (shared by every panel)
        ax.set_xlabel(METRIC_LABELS.get(metric, metric))
        top = max(drawn) if drawn and max(drawn) > 0 else 1.0
        ax.set_xlim(0, top * 1.25)
        for i, (value, record) in enumerate(zip(values, records)):
            text = format_value(value) if is_number(value) else (
                "failed" if record.get("error") or record.get("failed") else "n/a")
            ax.text(drawn[i] + top * 0.01, i, text, va="center", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    subtitle = ", ".join(str(meta[k]) for k in ("device", "date") if meta.get(k))
    title = meta.get("title", case) if len(metrics) else case
    fig.suptitle(f"{title} — {case}" if title != case else case, fontsize=11)
    if subtitle:
        fig.text(0.5, 0.01, subtitle, ha="center", fontsize=8, alpha=0.7)
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def markdown_table(case: str, records: list[dict], metrics: list[str], meta: dict) -> str:
    notes = any(r.get("note") or r.get("error") for r in records)
    header = ["what"] + metrics + (["note"] if notes else [])
    lines = [f"### {case}" + (f" ({meta['device']}, {meta['date']})"
                              if meta.get("device") and meta.get("date") else ""),
             "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, record in zip(labels_of(records), records):
        row = [one_line(label)] + [format_value(record.get(m)) for m in metrics]
        if notes:
            row.append(one_line(record.get("note") or record.get("error") or ""))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", type=pathlib.Path, help="results JSON files")
    parser.add_argument("--out-dir", type=pathlib.Path, default=None,
                        help="where PNGs go (default: beside each input)")
    parser.add_argument("--metric", action="append", default=None,
                        help="metric to draw (repeatable; default: every numeric field)")
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    args = parser.parse_args(argv)

    written = 0
    for path in args.inputs:
        meta, records = load(path)
        for case, rows in group_by_case(records).items():
            metrics = metrics_of(rows, args.metric)
            if args.markdown:
                print(markdown_table(case, rows, metrics, meta))
            if not metrics:
                print(f"plot.py: {path}: case {case!r} has no numeric metric; no chart",
                      file=sys.stderr)
                continue
            out_dir = args.out_dir or path.parent
            out = out_dir / f"{slug(path.stem)}-{slug(case)}.png"
            plot_case(case, rows, metrics, meta, out)
            print(f"plot.py: wrote {out}", file=sys.stderr)
            written += 1
    return 0 if written or args.markdown else 1


if __name__ == "__main__":
    sys.exit(main())
