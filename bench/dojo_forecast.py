"""The dojo forecasts against their naive baselines on simulated term histories.

For each seed, a history of weekly past events (``dojo_pulse.simulation.dojo_history``) is
fed to ``Forecaster.fit`` in prequential order: every event is predicted before it is
learned. The fill at registration close is scored at 28..1 days before the close (error in
fill points), the turnout in heads; the baselines are "the fill stays where it is" and
"everyone booked comes".

    python -m bench.dojo_forecast [--seeds 5] [--events 40]

Figures go to bench/results/dojo_forecast.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dojo_pulse.simulation.dojo_history import past_events
from stream.metrics.dojo_forecast import Forecaster

RESULTS = Path(__file__).parent / "results" / "dojo_forecast.md"


def main() -> None:
    """Score both models and their baselines; print and save a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--events", type=int, default=40)
    args = parser.parse_args()
    lines = [
        f"Prequential error on {args.events} simulated past events per seed "
        "(`python -m bench.dojo_forecast`).",
        "",
        "| seed | fill MAE (points) | naive fill MAE | turnout MAE (heads) | naive turnout MAE |",
        "|---|---|---|---|---|",
    ]
    for seed in range(1, args.seeds + 1):
        model = Forecaster.fit(past_events(seed, args.events))
        fill, turnout = model.fill_score.summary(), model.turnout_score.summary()
        lines.append(
            f"| {seed} | {100 * fill['mae']:.1f} | {100 * fill['naive_mae']:.1f} "  # type: ignore[operator]
            f"| {turnout['mae']:.2f} | {turnout['naive_mae']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
