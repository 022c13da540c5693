"""Files fetched from the network once, pinned by size and SHA-256, and cached.

A download is trusted only if it is exactly the file that was pinned: a wrong size or
hash (a changed mirror, an error page, a download cut short) is an error that names the
file, and the bad bytes never reach the cache. A cached file is checked again before use,
so a corrupted cache is noticed (and fetched anew) instead of being used forever.

The pins are those recorded for the same files by Hugging Face ``datasets``
(``tiny_shakespeare`` and ``wikitext``'s ``dataset_infos.json``). This course's tests never
touch the network: they replace ``_download`` (see ``tests/test_data.py``).
"""
from __future__ import annotations

import hashlib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..files import write_atomic

OFFLINE = "'synthetic' (the default), 'pydoc', or a path to a local text file"


class CorpusUnavailableError(RuntimeError):
    """A corpus that must be downloaded could not be (no network, a server failure, or the wrong bytes)."""


@dataclass(frozen=True)
class Pinned:
    url: str
    filename: str       # the name in the cache folder
    size: int           # bytes
    sha256: str


PINNED = {
    "tinyshakespeare": Pinned("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
                              "tinyshakespeare.txt", 1_115_394,
                              "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),
    "wikitext-2": Pinned("https://wikitext.smerity.com/wikitext-2-v1.zip", "wikitext-2-v1.zip", 4_475_746,
                         "92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c"),
}


def _download(url: str) -> bytes:
    """The bytes at ``url``. Tests replace this function (no network, wrong bytes)."""
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def mismatch(pin: Pinned, data: bytes) -> str | None:
    """Why ``data`` is not the pinned file, or None if it is."""
    if len(data) != pin.size:
        return f"{len(data):,} bytes instead of {pin.size:,}"
    digest = hashlib.sha256(data).hexdigest()
    return None if digest == pin.sha256 else f"SHA-256 {digest[:16]}… instead of {pin.sha256[:16]}…"


def fetch(name: str, cache: Path) -> Path:
    """The cached, verified file of corpus ``name`` (downloaded if it is missing or damaged)."""
    pin = PINNED[name]
    dest = Path(cache) / pin.filename
    if dest.exists() and mismatch(pin, dest.read_bytes()) is None:
        return dest
    try:
        data = _download(pin.url)
    except OSError as e:                      # urllib's URLError and socket timeouts are OSErrors
        raise CorpusUnavailableError(
            f"corpus {name!r} is not cached at {dest} and could not be downloaded from {pin.url} ({e}). "
            f"Offline choices: {OFFLINE}.") from e
    why = mismatch(pin, data)
    if why is not None:
        dest.unlink(missing_ok=True)          # a damaged cached copy goes too
        raise CorpusUnavailableError(
            f"the download of {pin.filename} for corpus {name!r} from {pin.url} is not the pinned file ({why}); "
            f"it was not kept. Try again later (an interrupted download or a changed mirror), or use one of "
            f"{OFFLINE}.")
    return write_atomic(dest, data)
