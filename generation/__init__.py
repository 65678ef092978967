"""Generation helpers on top of the SPF: ReTime real clips, keyframe/pacing plans, RoPE time warping.

Submodules import their heavy dependencies (torch, cv2, encoders) lazily so ``vidsearch --help``
stays fast; import what you need from them directly, e.g. ``vidsearch.generation.retime``.
"""
