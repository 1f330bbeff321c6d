"""Stage 2: a Whisper speech encoder → Q-Former / projector → a causal LLM that names the emotion."""
