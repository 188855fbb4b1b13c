"""The precision-recall plot `amma-edge eval` saves: one curve per class, AP in the legend.

matplotlib is optional (`pip install amma-edge[plot]`); it is imported here only, with the non-interactive Agg
backend so a headless machine (CI, a Jetson over ssh) can draw.
"""
from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from amma_edge.errors import MissingDependencyError
from amma_edge.eval.curves import PRCurve
from amma_edge.fileio import atomic_write


def save_pr_plot(curves: Sequence[PRCurve], path: str | os.PathLike, *, title: str,
                 ap_by_label: Mapping[str, float] | None = None) -> Path:
    """Write the PNG atomically; `ap_by_label` (percent) goes into the legend."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("matplotlib", "the precision-recall plot", "or pass --no-plot") from exc

    fig, ax = plt.subplots(figsize=(7, 5.5), dpi=110)
    try:
        cmap = plt.get_cmap("tab20" if len(curves) > 10 else "tab10")
        for i, curve in enumerate(curves):
            label = curve.label
            if ap_by_label and curve.label in ap_by_label:
                label = f"{curve.label} (AP {ap_by_label[curve.label]:.1f})"
            # Start at recall 0 so a class whose first detection is wrong still draws from the axis.
            recall = [0.0, *curve.recall.tolist()]
            precision = [curve.precision[0] if len(curve.precision) else 0.0, *curve.precision.tolist()]
            ax.plot(recall, precision, color=cmap(i % cmap.N), linewidth=1.6, label=label)
        ax.set_xlim(0, 1.0)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        if curves:
            ax.legend(loc="lower left", fontsize=8)
        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))
