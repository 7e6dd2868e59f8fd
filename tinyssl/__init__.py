"""tinyssl: tiny quantized CNNs from few labels, ready for FPGA dataflow (FINN)."""

import logging
import warnings

__version__ = "0.1.0"

# Noise that says nothing to a tinyssl user, silenced once here: brevitas imports
# torch.utils.cpp_extension (logs "No CUDA runtime is found" on CPU machines), uses named
# tensors (warns on each forward) and looks for fast_hadamard_transform; the ONNX exporter
# warns that torchvision, which we never use, is missing.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
logging.getLogger("torch.onnx").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="Named tensors and all their associated APIs")
warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")
