"""Training loops: the alexnet64 classifier and the inversion decoders."""
