#!/usr/bin/env python3
"""Writes the results table of RELIABILITY.md from results.tsv.

Only the part between the `<!-- results:begin -->` and `<!-- results:end -->`
markers is replaced; the sections around it (how each scenario works) are
written by hand.

    report.py RESULTS.tsv RELIABILITY.md [--seconds TOTAL]
"""
import argparse
import datetime
import os
import subprocess
import sys

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("markdown")
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--note", default=None, help="a line under the header, e.g. which runs the rows come from")
    args = parser.parse_args()

    rows = []
    with open(args.results) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 7:
                continue
            rows.append(fields[:7])

    def order(row):
        try:
            return (int(row[0]), row[1])
        except ValueError:
            return (1 << 30, row[1])

    rows.sort(key=order)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        f"Last run: {now}, commit {commit}, {os.cpu_count()} cores"
        + (f", {args.seconds} s in all" if args.seconds is not None else "")
        + " (`make reliability`).",
        *([ "", args.note] if args.note else []),
        "",
        "| # | scenario | runs | outcome | seconds | command | what it measured |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for scenario, name, runs, outcome, seconds, command, details in rows:
        details = details.replace("|", "\\|")
        lines.append(
            f"| {scenario} | {name} | {runs} | **{outcome}** | {seconds} | `{command}` | {details} |"
        )
    lines.append(END)

    with open(args.markdown) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{args.markdown} has no {BEGIN} … {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(args.markdown, "w") as f:
        f.write(head + "\n".join(lines) + tail)


if __name__ == "__main__":
    main()
