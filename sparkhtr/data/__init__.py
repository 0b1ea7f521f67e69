"""Training and evaluation data: dataset readers, synthetic lines and augmentation."""
