"""Offline work on a model, out of the runtime path: measuring its position lag
(``position_lag``), building and tuning language models (``lm_build``, ``tuning``), quantizing its
ONNX graph to int8 (``quantize``). Each reads a model through ``sparkhtr.inference`` and writes
files into its directory; nothing in ``sparkhtr.inference`` imports these modules."""
