"""Loading, validating and splitting the training data."""
