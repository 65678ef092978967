"""SemanticGen references: sample, encode, retime, compress and package retrieved clips."""
