"""posekit.export: writing a model's network as an ONNX file.

Running the file (the ONNX Runtime backend, ``init_onnx_model``) and
comparing it with PyTorch (``check_onnx``) are in :mod:`posekit.apis`,
which sits above: export depends on ``models``, ``config``, ``structures``
and ``hub`` only, and ``backend='onnxruntime'`` with a checkpoint exports it
once (:func:`cached_onnx`).

Importing this package needs neither onnx nor onnxruntime; the functions
that use them raise an ImportError naming ``pip install "posekit[onnx]"``.
"""
from .cached import cached_onnx
from .onnx_export import export_onnx, output_names, resolve_input_shape
from .quantize import calibration_inputs, quantize_onnx

__all__ = ['cached_onnx', 'calibration_inputs', 'export_onnx', 'output_names', 'quantize_onnx',
           'resolve_input_shape']
