"""Finding media in the official folder layouts: one directory listing per folder instead of a stat per
clip (30k clips), with the expected path returned for absent files so the writer reports them."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["AUDIO_EXTS", "VIDEO_EXTS", "MediaDir", "face_npy", "inside"]

VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".mov", ".flv", ".webm")
AUDIO_EXTS = (".wav", ".flac", ".mp3")


class MediaDir:
    """`lookup(name)` -> path of `<dir>/<name>.<ext>` (preferring the earlier extension); for an absent file
    the `<name><exts[0]>` path, which the writer then reports as missing. An absent folder gives None."""

    def __init__(self, folder: str | Path, exts: tuple[str, ...]):
        self.folder = Path(folder).resolve()
        self.exts = exts
        self.exists = self.folder.is_dir()
        self._index: dict[str, Path] = {}
        if self.exists:
            for path in sorted(self.folder.iterdir(), key=lambda p: (p.stem, self._rank(p.suffix))):
                if path.suffix.lower() in exts and path.stem not in self._index:
                    self._index[path.stem] = path

    def _rank(self, suffix: str) -> int:
        return self.exts.index(suffix.lower()) if suffix.lower() in self.exts else len(self.exts)

    def lookup(self, name: str) -> Path | None:
        if not self.exists:
            return None
        return self._index.get(name) or inside(self.folder, name, f"{name}{self.exts[0]}")


def inside(folder: Path, name: str, relative: str) -> Path:
    """`folder / relative` for clip `name`, refusing a name that leads out of `folder` (`../../secret` in a
    label file would otherwise put an outside file's bytes into the dataset). Lexical, so symlinked media
    folders still work."""
    path = Path(os.path.normpath(folder / relative))
    if Path(name).is_absolute() or not path.is_relative_to(folder):
        raise ValueError(f"clip name {name!r} points outside {folder}; clip names must be plain file names")
    return path


def face_npy(root: str | Path, name: str) -> Path | None:
    """OpenFace crops `<root>/openface_face/<name>/<name>.npy` when present (face tracking fails on some
    clips; a missing crop file leaves the face column empty rather than failing the build)."""
    faces = Path(root).resolve() / "openface_face"
    path = inside(faces, name, f"{name}/{name}.npy")
    return path if path.is_file() else None
