"""Training callbacks: each feature around the loop is one file (base.py: the interface)."""
