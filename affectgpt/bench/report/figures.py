"""The report's figures: `results.png` (the primary metric per dataset, with the paper's numbers and the
per-dataset best marked) and `confusion.png` (one matrix per basic-emotion set). matplotlib runs headless."""

from __future__ import annotations

from affectgpt.bench.report.numbers import ok, pct
from affectgpt.bench.report.records import CheckpointRun, basic_sets, confusion
from affectgpt.bench.report.summary import OFFICIAL_PROTOCOL, compare, reported, summarize
from metrics.mer_unibench.tasks import PAPER_TABLE2

__all__ = ["confusion_figure", "results_figure"]


def results_figure(runs: list[CheckpointRun]):
    """Bars: the reported checkpoint's primary metric per dataset (no mean bar: the mean is in the title);
    markers: the paper's Table 2 and, with several checkpoints, the per-dataset best."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    run = reported(runs)
    datasets = [r["dataset"] for r in run.results]
    values = [100 * r["primary"] if ok(r["primary"]) else 0.0 for r in run.results]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(datasets) + 2.5), 4.2), dpi=100)
    label = f"{run.name} (best single checkpoint)" if len(runs) > 1 else run.name
    bars = ax.bar(datasets, values, color="#4C72B0", label=label)
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    if len(runs) > 1:
        official = compare(runs)["per_dataset_best"]["datasets"]
        xs = [i for i, d in enumerate(datasets) if d in official]
        ax.scatter(xs, [100 * official[datasets[i]]["primary"] for i in xs], marker="_", s=400, color="#C44E52",
                   linewidths=2.5, zorder=3, label=OFFICIAL_PROTOCOL)  # fmt: skip
    papers = [(i, PAPER_TABLE2[d]) for i, d in enumerate(datasets) if d in PAPER_TABLE2]
    if papers:
        ax.scatter([i for i, _ in papers], [v for _, v in papers], marker="D", s=36, color="black", zorder=4,
                   label="paper (Table 2)")  # fmt: skip
    mean = summarize(run.results)["mean"]
    ax.set_title(f"MER-UniBench — {run.name}: mean {pct(mean)} over {len(datasets)} dataset(s)", fontsize=10)
    ax.set_ylabel("primary metric (%)")
    ax.set_ylim(0, 105)
    ax.tick_params(axis="x", rotation=30)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, frameon=False
    )
    fig.tight_layout()
    return fig


def confusion_figure(run: CheckpointRun, tables):
    """The run's confusion matrices, one per basic-emotion set; None when it scored no such set."""
    basic = basic_sets(run)
    if not basic:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(basic), figsize=(4.2 * len(basic), 4.0), dpi=100, squeeze=False)
    for ax, (dataset, samples) in zip(axes[0], basic.items()):
        labels, matrix = confusion(samples, tables)
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
        for r, row in enumerate(matrix):
            for c, value in enumerate(row):
                text = "n/a" if value != value else f"{100 * value:.0f}"
                ax.text(c, r, text, ha="center", va="center", fontsize=8,
                        color="white" if value == value and value > 0.6 else "black")  # fmt: skip
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlabel("covered by the answer (%)")
        ax.set_ylabel("reference")
        ax.set_title(dataset, fontsize=10)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    fig.suptitle(
        f"{run.name}: share of clips whose answer covers each emotion (diagonal = recall)", fontsize=9
    )
    return fig
