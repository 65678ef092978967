"""Decoding: PyAV reading and sampling, segments, the decode-event stream and the worker pool."""
