"""Training and evaluation: config, batches, the loop, checkpoints and CER/WER reports."""
