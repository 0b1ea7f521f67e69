"""Characters and label ids: the charset codec, CTC greedy decoding and the CER/WER metrics."""
