"""The pipeline stages DVC runs: prepare → train → evaluate → register."""
