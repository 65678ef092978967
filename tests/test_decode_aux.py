"""Aux descriptors (optical flow) are computed on the decode side and used as they came."""

from __future__ import annotations

import numpy as np

from vidsearch.indexers import features as features_module
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.events import SegmentDecoded, decode_events
from vidsearch.indexers.descriptors.flow import flow_descriptor


def test_decoded_segments_carry_their_flow_and_the_encoder_side_does_not_recompute_it(real_clips, monkeypatch):
    from vidsearch.indexers.encoders import load_encoder

    tiny_encoder = load_encoder("tiny-random", num_threads=1)
    config = ExtractorConfig(backbone="tiny-random", num_frames=8, segment=SegmentConfig(mode="none"))
    assert config.aux_descriptors == ("flow",)
    events = list(decode_events(str(real_clips / "bikes.mp4"), config, tiny_encoder.image_size, "pyav"))
    (segment,) = [e.segment for e in events if isinstance(e, SegmentDecoded)]
    np.testing.assert_array_equal(segment.aux["flow"], flow_descriptor(segment.frames))

    def must_not_run(*_args):
        raise AssertionError("aux descriptors recomputed on the encoder side")

    monkeypatch.setattr(features_module, "aux_descriptors", must_not_run)
    got = features_module.features_from_encoded(
        tiny_encoder.encode(segment.frames), config, None, segment.frames, segment.aux
    )
    np.testing.assert_array_equal(got.aux["flow"], segment.aux["flow"])
