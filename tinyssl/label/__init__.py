"""Labelling the picks of `tinyssl select`: a local browser page (`tinyssl label`) and the
Label Studio round trip (tasks out, exports back in as labels files)."""
