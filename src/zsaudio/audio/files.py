"""Which files are audio: the extensions zsaudio reads and the expansion of files/folders.

>>> expand_inputs(["no/such.wav"])
[('no/such.wav', 'file not found')]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["AUDIO_EXTENSIONS", "audio_files_in", "existing_files", "expand_inputs"]

#: Extensions of the audio files found in folders, most lossless first (also the order in
#: which a data set's file stem is resolved). Any format soundfile decodes is read.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")


def audio_files_in(folder: str | Path) -> list[Path]:
    """The audio files under ``folder`` (recursively, extension in :data:`AUDIO_EXTENSIONS`,
    case-insensitive), sorted; files and folders whose name starts with "." are skipped."""
    folder = Path(folder)
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS
                  and not any(part.startswith(".") for part in f.relative_to(folder).parts))


def expand_inputs(inputs: str | Path | Iterable[str | Path]) -> list[tuple[str, str | None]]:
    """Files to process: each input file as given, each folder's audio files (recursively).

    A missing input or a folder without audio becomes an entry with an error, so callers can
    report it and still process the other inputs.

    Parameters
    ----------
    inputs : path or iterable of paths

    Returns
    -------
    list of (path, error)
        ``error`` is None for a file to process, else the reason it cannot be.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    out: list[tuple[str, str | None]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = audio_files_in(p)
            if not files:
                out.append((str(item), "folder holds no audio file (" + ", ".join(AUDIO_EXTENSIONS) + ")"))
            out += [(str(f), None) for f in files]
        elif p.is_file():
            out.append((str(item), None))
        else:
            out.append((str(item), "file not found"))
    return out


def existing_files(entries: Sequence[tuple[str, str | None]]) -> list[str]:
    """The paths of :func:`expand_inputs` entries without an error, duplicates dropped (first kept)."""
    return list(dict.fromkeys(p for p, err in entries if err is None))
