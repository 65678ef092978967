"""A decode function whose module refuses to load in a child process: a decode worker given it
dies while it starts (unpickling its arguments), before any file is its fault."""

from __future__ import annotations

import multiprocessing

from vidsearch.indexers.decode.segmenting import open_segments

# true while a starting child unpickles its target's arguments (multiprocessing's spawn._main)
if getattr(multiprocessing.current_process(), "_inheriting", False):
    raise ImportError("this module does not load in a worker process")


def decode(path, config, image_size, decoder="pyav"):
    return open_segments(path, config, image_size, decoder)
