"""The reward-curve figure of a GRPO run (and the file names the run writes at its end)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

__all__ = ["LOG_FILE", "REWARD_CURVES_FILE", "plot_reward_curves"]

logger = logging.getLogger(__name__)

REWARD_CURVES_FILE = "reward_curves.png"
LOG_FILE = "log_history.json"


def plot_reward_curves(log_history: list[dict], path: str | Path) -> Path | None:
    """One PNG: the weighted total reward and each reward component's mean against the step."""
    steps = [e for e in log_history if "reward" in e and "step" in e]
    if not steps:
        logger.warning("no reward was logged; %s not written", path)
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({k for e in steps for k in e if k.startswith("rewards/") and k.endswith("/mean")})
    fig, (total, parts) = plt.subplots(1, 2, figsize=(11, 4))
    x = [e["step"] for e in steps]
    total.plot(x, [e["reward"] for e in steps], marker=".")
    total.set(title="total reward (weighted)", xlabel="step")
    for name in names:
        parts.plot(x, [e.get(name, math.nan) for e in steps], marker=".", label=name.split("/")[1])
    parts.set(title="reward components (mean per step)", xlabel="step")
    parts.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
