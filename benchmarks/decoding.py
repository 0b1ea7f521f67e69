"""CTC decoders side by side on the same network outputs: CER, WER and milliseconds per line.

The network reads every line once; each decoder then decodes the stored log-probabilities, so the
figures compare decoding alone (the network's own time is printed once, as the baseline the
decoders' cost is measured against). Decoders: greedy (SPAN's), and beam search with the model's
LM at several beam widths, with and without its lexicon, and without any LM. Each beam decoder
runs compiled (sparkhtr/text/_beam.c, what BeamDecoder uses) and as the Python reference
(ctc.beam_decode) in the same run: both columns, their ratio, and whether every text is the same.
Last, the default decoder on --decode-threads threads, to show that lines decode in parallel.

    python benchmarks/decoding.py ../shared/data/copiste_dun_jour_fr --split val [--model MODEL] [--widths 10 20 40]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import torch
from line_sets import add_dataset_arguments, open_lines
from tqdm import tqdm

from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.registry import model_dir
from sparkhtr.text.charset import Charset
from sparkhtr.text.ctc import beam_decode
from sparkhtr.text.decoders import BeamDecoder, GreedyDecoder, make_decoder
from sparkhtr.text.fast_beam import COMPILED
from sparkhtr.text.metrics import corpus_scores


def python_reference(decoder: BeamDecoder):
    """The same beam search in Python (ctc.beam_decode), as BeamDecoder decoded before it was compiled."""

    def decode(log_probs, charset):
        return beam_decode(log_probs, len(charset), charset, decoder.lm, decoder.lm_weight, decoder.length_bonus,
                           decoder.beam_width, lexicon=decoder.lexicon, word_bonus=decoder.word_bonus,
                           oov_penalty=decoder.oov_penalty)

    return decode


def timed(decode, log_probs: list, chars: list[str]) -> tuple[list[list[int]], float]:
    """Each line's labels and the milliseconds per line, after one line to warm up (an LM's tables are
    built the first time it decodes)."""
    decode(log_probs[0], chars)
    started = time.perf_counter()
    labels = [[c.label for c in decode(lp, chars).chars] for lp in log_probs]
    return labels, 1000 * (time.perf_counter() - started) / len(log_probs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_arguments(parser)
    parser.add_argument("--widths", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the network (default 1)")
    parser.add_argument("--decode-threads", type=int, default=2, help="threads for the parallel run (default 2)")
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
    default = model_beam
    for width in args.widths:
        if model_beam.lm is not None and model_beam.lm.lexicon is not None:
            decoders.append((f"beam {width}, LM + lexicon", replace(model_beam, beam_width=width)))
        if model_beam.lm is not None:
            no_lexicon = replace(model_beam, beam_width=width, word_bonus=0.0, oov_penalty=0.0)
            decoders.append((f"beam {width}, LM, lexicon off", no_lexicon))
    decoders.append(("beam 10, no LM", BeamDecoder(None, beam_width=10)))

    print(f"{len(samples)} lines of {args.dataset} ({args.split}), model {model}")
    print(f"network (torch fp32, {args.threads} thread(s), image loading included): {network_ms:.1f} ms/line")
    print(f"beam search compiled: {COMPILED}; default decoder: beam {default.beam_width}, LM + lexicon")
    print(f"{'decoder':<32} {'CER %':>7} {'WER %':>7} {'ms/line':>8} {'x network':>10} {'Python ms':>10} "
          f"{'x faster':>9} {'same texts':>10}")
    for name, decoder in decoders:
        labels, ms = timed(decoder, log_probs, charset.chars)
        texts = [charset.decode(line) for line in labels]
        scores = corpus_scores(zip(references, texts))
        row = f"{name:<32} {100 * scores['cer']:7.2f} {100 * scores['wer']:7.2f} {ms:8.2f} {ms / network_ms:10.3f}"
        if isinstance(decoder, BeamDecoder):
            python_labels, python_ms = timed(python_reference(decoder), log_probs, charset.chars)
            same = sum(a == b for a, b in zip(labels, python_labels))
            row += f" {python_ms:10.2f} {python_ms / ms:9.1f} {same:>5}/{len(labels)}"
        print(row)

    # Lines decoded by several threads at once: the compiled search releases the GIL. CPU time over
    # wall time above 1 shows them running at the same time; on a machine busy with other work the
    # gain is bounded by the cores left free (the load average says how busy it is). Each count of
    # threads runs three times, taking turns, and the fastest run counts.
    print(f"load average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    runs: dict[int, list[tuple[float, float]]] = {1: [], args.decode_threads: []}
    for _ in range(3):
        for threads in runs:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda lp: default(lp, charset.chars), log_probs[:threads]))  # warm
                started, cpu = time.perf_counter(), time.process_time()
                list(pool.map(lambda lp: default(lp, charset.chars), log_probs))
                wall = time.perf_counter() - started
                runs[threads].append((1000 * wall / len(log_probs), (time.process_time() - cpu) / wall))
    alone = min(runs[1])[0]
    for threads, found in runs.items():
        ms, busy = min(found)
        print(f"default decoder on {threads} thread(s): {ms:.2f} ms/line wall (best of 3), {alone / ms:.2f}x one "
              f"thread, CPU time / wall time {busy:.2f}")

if __name__ == "__main__":
    main()
