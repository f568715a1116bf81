"""Training and evaluation steps of the pipeline."""
