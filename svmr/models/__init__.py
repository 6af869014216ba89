"""Models: stage-1 retrieval (two-branch auto-encoder with CTC layers) and its variants."""
