"""tinyssl: tiny quantized CNNs from few labels, ready for FPGA dataflow (FINN)."""

__version__ = "0.1.0"
