"""Whether a graph is being captured: then nothing may be kept between calls.

The head keeps a few things between eager calls (cast weights, positional encodings, the
shared tokens' first half-layer). A traced, exported or compiled graph must instead record
how they are computed, so each of those keeps asks this one question.
"""
import torch


def capturing_graph() -> bool:
    """True while ``torch.jit.trace``, ``torch.onnx.export`` or ``torch.compile`` runs."""
    return (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
            or torch.compiler.is_compiling())
