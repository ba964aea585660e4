"""The bench driver: generate the answers a dataset's cache lacks (batched, resumable, data-parallel), with
each clip that cannot be decoded or generated recorded as a failure while the run goes on."""

from __future__ import annotations

import sys

from affectgpt.bench.cache import GenerationCache
from affectgpt.bench.protocol import Protocol, input_key
from affectgpt.errors import CLIError

__all__ = ["generate_dataset"]


def _one_line(err: BaseException) -> str:
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(err).__name__


class _TolerantEncoder:
    """The DataLoader's `collate_fn`: encodes a batch, and when that fails, each clip alone, so that one
    unreadable clip fails by itself. Returns `(names, inputs or None, failures [(name, error)], clips)`."""

    def __init__(self, encode, fail_fast: bool = False):
        self.encode, self.fail_fast = encode, fail_fast

    def __call__(self, clips):
        try:
            names, inputs = self.encode(clips)
            return names, inputs, [], clips
        except Exception as err:  # noqa: BLE001 - any decoder/processor error is this batch's failure
            if self.fail_fast:
                raise
            if len(clips) == 1:
                return [], None, [(clips[0].get("name"), _one_line(err))], []
        good, failures = [], []
        for clip in clips:
            try:
                self.encode([clip])
                good.append(clip)
            except Exception as err:  # noqa: BLE001 - recorded per sample, reported in the results
                failures.append((clip.get("name"), _one_line(err)))
        if not good:
            return [], None, failures, []
        names, inputs = self.encode(good)
        return names, inputs, failures, good


def generate_dataset(
    pipe,
    rows: list[dict],
    cache: GenerationCache,
    dataset: str,
    protocol: Protocol,
    num_workers: int = 0,
    state=None,
    progress: bool = True,
    fail_fast: bool = False,
) -> tuple[dict[str, str], dict[str, str]]:
    """Generate what the cache lacks (this process's shard of it), append as we go; returns
    `(outputs, failures)` for the whole dataset, `failures` mapping a sample name to its one-line error.

    A sample that cannot be decoded or generated is recorded as a failure and the run goes on (not cached, so
    the next run tries it again); `fail_fast` stops at the first one instead. `state` is an accelerate
    `PartialState` (or None for one process): each process generates its contiguous share of the missing
    samples, and the new outputs are gathered so every process returns the full set."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    multi = state is not None and state.num_processes > 1
    is_main = state is None or state.is_main_process
    keys = {r["name"]: input_key(r["clip"]) for r in rows}
    lookup = cache.load(dataset, keys)
    if is_main:
        for note in lookup.notes:
            print(f"bench: {dataset}: {note}", file=sys.stderr)
    done = lookup.outputs
    if multi:
        from accelerate.utils import gather_object

        # Every process must shard the same to-do list. Each may see a different cache (its own rank file on
        # a node-local disk, or a peer still writing), so they agree on the union; gathering is also the
        # barrier that keeps anyone from writing this dataset's cache before all have read it.
        for part in gather_object([done]):
            done.update(part)
    todo = [r["clip"] for r in rows if r["name"] not in done]
    shard = todo
    if multi:
        with state.split_between_processes(todo) as part:
            shard = list(part)
    new: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []

    def run(names, inputs, seed):
        texts = pipe.generate(inputs, protocol.decoding, protocol.generation.get("max_new_tokens"), seed=seed)
        cache.append(dataset, [(n, t, keys[n]) for n, t in zip(names, texts)])
        new.extend(zip(names, texts))

    if shard:
        encode = pipe.encoder(protocol.task)
        loader = DataLoader(
            shard,
            batch_size=protocol.batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=_TolerantEncoder(encode, fail_fast),  # decodes media inside the workers
            persistent_workers=False,
        )
        bar = tqdm(total=len(todo), desc=dataset, unit="clip", disable=not (progress and is_main))
        try:
            with pipe.fixed_weights():
                for index, (names, inputs, failures, clips) in enumerate(loader):
                    failed.extend(failures)
                    if names:
                        try:
                            run(names, inputs, protocol.seed + index)
                        except Exception as err:  # noqa: BLE001 - isolate the sample that breaks generation
                            if fail_fast:
                                raise CLIError(
                                    f"{dataset}: generation failed for {', '.join(map(str, names))}: "
                                    f"{_one_line(err)}"
                                ) from err
                            for clip in clips:  # one by one, so only the culprit fails
                                try:
                                    run(*encode([clip]), protocol.seed + index)
                                except Exception as one:  # noqa: BLE001 - recorded, reported in the results
                                    failed.append((clip.get("name"), _one_line(one)))
                    bar.update(
                        (len(names) + len(failures)) * (state.num_processes if state is not None else 1)
                    )
        except (FileNotFoundError, ValueError, TypeError) as err:
            # --fail-fast: unreadable media (the processor names the file); what is finished stays cached.
            raise CLIError(f"{dataset}: {_one_line(err)}") from err
        finally:
            bar.close()
    if multi:
        new = gather_object(new)
        failed = gather_object(failed)
    done.update(dict(new))
    failures = {str(name): error for name, error in failed}
    if failures and not done:
        # Nothing at all worked: a broken model or setup, not a few bad clips; a table of zeros would hide it.
        name, error = next(iter(failures.items()))
        raise CLIError(f"{dataset}: all {len(failures)} samples failed, e.g. {name}: {error}")
    return done, failures
