"""Write the live (last-step) weights of a weight-averaged training checkpoint as a checkpoint of their own.

Usage:  python benches/live_weights.py RUN/last.pt RUN/live.pt
then    amma-edge eval --model RUN/live.pt --data TEST --out RUN/eval-test-live

Why: scoring the average and the live weights of one run is the paired measurement of what `ema_decay`
bought; comparing an averaged run against another run instead mixes in the seed-to-seed spread.
"""
from __future__ import annotations

import sys
from pathlib import Path

from amma_edge.errors import AmmaEdgeError
from amma_edge.train.checkpoint import live_weights_state, load_checkpoint, save_checkpoint


def main(source: Path, target: Path) -> None:
    if target.resolve() == source.resolve():
        raise AmmaEdgeError(f"{target} is the checkpoint being read: name another file, it would be overwritten")
    state = load_checkpoint(source)
    save_checkpoint(target, live_weights_state(state))
    print(f"wrote {target}: the live weights of {source} after step {state.get('step')}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        main(Path(sys.argv[1]), Path(sys.argv[2]))
    except AmmaEdgeError as exc:
        sys.exit(f"error: {exc}")
