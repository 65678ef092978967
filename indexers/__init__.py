"""Ingestion: video decoding, frame encoders, SemanticMoments, SPF signatures, corpus walking."""
