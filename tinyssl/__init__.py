"""tinyssl: tiny quantized CNNs from few labels, ready for FPGA dataflow (FINN)."""

import logging
import warnings

__version__ = "0.1.0"

# Brevitas imports torch.utils.cpp_extension, which logs "No CUDA runtime is found" on every
# CPU-only machine, and uses named tensors, which warn on each forward pass. Neither says
# anything to a user of tinyssl, so both are silenced once, here.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="Named tensors and all their associated APIs")
