"""Training of float models and their quantisation to the integer engine."""
