"""CTC decoders side by side on the same network outputs: CER, WER and milliseconds per line.

The network reads every line once; each decoder then decodes the stored log-probabilities, so the
figures compare decoding alone (the network's own time is printed once, as the baseline the
decoders' cost is measured against). Decoders: greedy (SPAN's), and beam search with the model's
LM at several beam widths, with and without its lexicon, and without any LM.

    python benchmarks/decoding.py ../shared/data/copiste_dun_jour_fr --split val [--model MODEL] [--widths 10 20 40]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
from line_sets import add_dataset_arguments, open_lines
from tqdm import tqdm

from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.registry import model_dir
from sparkhtr.text.charset import Charset
from sparkhtr.text.decoders import BeamDecoder, GreedyDecoder, make_decoder
from sparkhtr.text.metrics import corpus_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_arguments(parser)
    parser.add_argument("--widths", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the network (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = model_dir(args.model)
    recognizer = Recognizer.load(model, decoder="greedy")
    samples = open_lines(args)
    started = time.perf_counter()
    log_probs = [recognizer.log_probs(s.image()) for s in tqdm(samples, desc="network", unit="line")]
    network_ms = 1000 * (time.perf_counter() - started) / len(samples)
    references = [s.text for s in samples]
    charset = Charset(recognizer.charset)

    decoders: list[tuple[str, object]] = [("greedy", GreedyDecoder())]
    model_beam = make_decoder("beam", model)
    for width in args.widths:
        if model_beam.lm is not None and model_beam.lm.lexicon is not None:
            decoders.append((f"beam {width}, LM + lexicon", replace(model_beam, beam_width=width)))
        if model_beam.lm is not None:
            no_lexicon = replace(model_beam, beam_width=width, word_bonus=0.0, oov_penalty=0.0)
            decoders.append((f"beam {width}, LM, lexicon off", no_lexicon))
    decoders.append(("beam 10, no LM", BeamDecoder(None, beam_width=10)))

    print(f"{len(samples)} lines of {args.dataset} ({args.split}), model {model}")
    print(f"network (torch fp32, {args.threads} thread(s), image loading included): {network_ms:.1f} ms/line")
    print(f"{'decoder':<32} {'CER %':>7} {'WER %':>7} {'ms/line':>8} {'x network time':>15}")
    for name, decoder in decoders:
        started = time.perf_counter()
        texts = [charset.decode(c.label for c in decoder(lp, charset.chars).chars) for lp in log_probs]
        ms = 1000 * (time.perf_counter() - started) / len(samples)
        scores = corpus_scores(zip(references, texts))
        print(f"{name:<32} {100 * scores['cer']:7.2f} {100 * scores['wer']:7.2f} {ms:8.2f} {ms / network_ms:15.2f}")


if __name__ == "__main__":
    main()
