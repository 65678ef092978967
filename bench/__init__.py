"""Benchmarks: the SimMotion suite (``vidsearch bench``) and the throughput benchmark.

- ``synthetic`` / ``motion`` / ``scene`` / ``render``: the procedural SimMotion-like set;
- ``layout`` / ``protocols``: the official folder layouts and metrics;
- ``tokens`` / ``flow`` / ``methods`` / ``runner``: cached encoder outputs, the compared methods
  and the run loop; ``report`` / ``reported``: tables, with the paper's numbers kept apart;
- ``cli``: the ``vidsearch bench`` commands; ``throughput``: indexing and query speed.
"""
