"""Deployment: exporting the network to ONNX and running it with ONNX Runtime."""
from .onnx_export import DEFAULT_OPSET, OUTPUT_NAMES, ExportableMeshNetwork, export_onnx
from .onnx_runtime import OnnxRuntimeNetwork, use_onnxruntime

__all__ = ['export_onnx', 'ExportableMeshNetwork', 'OUTPUT_NAMES', 'DEFAULT_OPSET',
           'OnnxRuntimeNetwork', 'use_onnxruntime']
